"""Run a sweep: resume the study, run trials in this process or in N worker processes,
stop at the budget, at the failure limit or at the timeout, then report to MLflow."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from zoo.config import flatten
from zoo.errors import ConfigError
from zoo.registry.merit import stats_tags
from zoo.registry.versions import has_checkpoint, promote, register_run
from zoo.secrets import mask
from zoo.sweeps.check import check_against_config
from zoo.sweeps.confirmation import confirm, log_confirmation
from zoo.sweeps.objective import TrialObjective
from zoo.sweeps.report import log_report, ranked, top_table
from zoo.sweeps.spec import SweepSpec
from zoo.sweeps.study import (
    PARENT_ATTR,
    counts,
    fail_dead_local_trials,
    load_study,
    masked,
    open_storage,
    reopen_parent_run,
    storage_url,
)
from zoo.sweeps.workers import apply_worker_threads, quiet_libraries, spawn_workers
from zoo.tasks import kind_of_config
from zoo.tracking import experiment_for
from zoo.training.builders import check_outputs
from zoo.training.callbacks import format_duration


@dataclass
class SweepOutcome:
    study_name: str
    parent_run_id: str
    counts: dict[str, int]
    stopped_by_failures: bool
    summary: str
    worker_errors: int = 0


def format_eta(seconds: float | None) -> str:
    """`ETA 4m10s`; `ETA -` before any trial has finished."""
    return "ETA -" if seconds is None else f"ETA {format_duration(seconds)}"


def eta_seconds(durations: list[float], trials_left: int, workers: int) -> float | None:
    """Mean trial wall time x trials left / workers (None before any trial has finished)."""
    if not durations:
        return None
    return sum(durations) / len(durations) * max(0, trials_left) / max(1, workers)


def trial_line(number: int, state: str, value: str, params: str, epochs: object, seconds: object, done: int,
               n_trials: int, failed: int, best: str, eta: float | None) -> str:
    """`[trial   3] COMPLETE val/acc=0.8452  lr=0.001  epochs=4 21.3s  (4/12 done, 0 failed; best val/acc=0.8610,
    ETA 2m50s)`: the trial, then where the whole sweep stands."""
    return (f"[trial {number:>3}] {state:<8} {value}  {params}  epochs={epochs} {seconds}s  "
            f"({done}/{n_trials} done, {failed} failed; {best}, {format_eta(eta)})")


def _best_so_far(study: optuna.Study, names: list[str]) -> str:
    """`best val/acc=0.8610 (trial 7)`; a multi-objective study counts its Pareto front."""
    try:
        if len(names) > 1:
            return f"Pareto front {len(study.best_trials)} trials"
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return "best -"
    return f"best {names[0]}={best.value:.4f} (trial {best.number})"


def _progress(spec: SweepSpec):
    names = [o.metric for o in spec.objectives]

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        c = counts(study)
        value = ("  ".join(f"{n}={v:.4f}" for n, v in zip(names, trial.values, strict=True))
                 if trial.values else trial.user_attrs.get("fail_reason", ""))
        params = " ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                          for k, v in trial.params.items())
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        durations = [t.duration.total_seconds() for t in finished if t.duration is not None]
        done = c["COMPLETE"] + c["PRUNED"]
        eta = eta_seconds(durations, spec.n_trials - done, spec.workers)
        print(trial_line(trial.number, trial.state.name, value, params, trial.user_attrs.get("epochs", "-"),
                         trial.user_attrs.get("seconds", "-"), done, spec.n_trials, c["FAIL"],
                         _best_so_far(study, names), eta), flush=True)

    return callback


def _parent_run(study: optuna.Study, spec: SweepSpec, client: mlflow.MlflowClient, experiment_id: str,
                storage: str) -> str:
    """The sweep's parent run: created with the study, reused (set RUNNING) on resume."""
    run_id = reopen_parent_run(study, client, "start a new study with study_name=<new name>")
    if run_id:
        return run_id
    run = client.create_run(experiment_id, run_name=f"sweep-{spec.study_name}",
                            tags={"zoo.sweep": spec.name, "optuna.study_name": spec.study_name,
                                  "optuna.storage": storage})
    spec_dict = {k: v for k, v in vars(spec).items() if k not in ("objectives", "search_space")}
    spec_dict["objectives"] = [f"{o.metric}:{o.direction}" for o in spec.objectives]
    spec_dict["confirm"] = dict(vars(spec.confirm))
    spec_dict["search_space"] = {k: {f: v for f, v in vars(p).items() if v not in (None, (), False)}
                                 for k, p in spec.search_space.items()}
    client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, mask(v)[:6000])  # storage password: ***
                                              for k, v in flatten(spec_dict).items()])
    client.log_text(run.info.run_id, mask(OmegaConf.to_yaml(spec_dict)), "sweep_spec.yaml")
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id


class FailureBudget:
    """Failures of this invocation (earlier runs' and dead workers' are not held against it)."""

    def __init__(self, study: optuna.Study, spec: SweepSpec) -> None:
        self.study, self.limit = study, spec.max_failures
        self.before = counts(study)["FAIL"]

    def used(self) -> int:
        return counts(self.study)["FAIL"] - self.before

    def exceeded(self) -> bool:
        return self.used() > self.limit


def _budget_left(study: optuna.Study, spec: SweepSpec) -> bool:
    c = counts(study)
    return c["COMPLETE"] + c["PRUNED"] + c["RUNNING"] < spec.n_trials


def work(study: optuna.Study, spec: SweepSpec, objective: TrialObjective, deadline: float | None,
         failures: FailureBudget) -> None:
    """Run trials one at a time until the budget, the failure limit or the deadline."""
    progress = _progress(spec)
    while _budget_left(study, spec) and not failures.exceeded():
        if deadline is not None and time.time() >= deadline:
            print(f"timeout of {spec.timeout} s reached; rerun the command to continue", flush=True)
            return
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[progress], gc_after_trial=True)
        with warnings.catch_warnings():  # other hosts' dead workers, after their grace period
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def _register_best(study: optuna.Study, spec: SweepSpec, client: mlflow.MlflowClient, tracking_uri: str,
                   parent: str, objective: TrialObjective) -> None:
    """The best trial becomes the `challenger` version, and champion only if it is better.
    A trial whose checkpoint was not kept is retrained on its parameters first."""
    best = ranked(study, spec)
    if not best or "mlflow_run_id" not in best[0].user_attrs:
        return
    run_id = best[0].user_attrs["mlflow_run_id"]
    if not has_checkpoint(client, run_id):
        print(f"best trial {best[0].number} kept no checkpoint (keep_checkpoints: false): retraining it to "
              "register it", flush=True)
        run_id, value = objective.retrain(best[0])
        print(f"retrained run {run_id}: {spec.objectives[0].metric} {value} (the trial had {best[0].value})",
              flush=True)
    entry = register_run(run_id, tracking_uri, alias="challenger", sweep_run_id=parent)
    client.set_tag(parent, "sweep.registered", f"models:/{entry.name}/{entry.version}")
    print(f"best trial {best[0].number} registered as {entry.name} v{entry.version} (challenger)", flush=True)
    print(promote(entry.name, entry.version, tracking_uri), flush=True)


def _confirm_and_register(study: optuna.Study, spec: SweepSpec, client: mlflow.MlflowClient, cfg: DictConfig,
                          parent: str, storage: optuna.storages.BaseStorage, summary: str) -> None:
    """Prove the winner over seeds, register its seed-0 run with the seed statistics, and
    promote it only if it beats the default recipe on test (then the champion, on means)."""
    result = confirm(study, spec, storage, parent, kind_of_config(cfg))
    if result is None:
        return
    log_confirmation(client, parent, result, summary, spec.objectives[0].metric)
    print(f"confirmation: {result.verdict()}", flush=True)
    tracking_uri = cfg.logger.tracking_uri
    tags = {**stats_tags(result.winner.summaries, result.winner.parent_run_id),
            "zoo.sweep_trial": str(result.winner_trial)}
    entry = register_run(result.winner.first_run().run_id, tracking_uri, alias="challenger", sweep_run_id=parent,
                         extra_tags=tags)
    client.set_tag(parent, "sweep.registered", f"models:/{entry.name}/{entry.version}")
    print(f"winner (trial {result.winner_trial}, seed {result.winner.first_run().point['seed']}) registered as "
          f"{entry.name} v{entry.version} (challenger)", flush=True)
    if result.proven:
        print(promote(entry.name, entry.version, tracking_uri), flush=True)
    else:
        print(f"not promoted: the sweep did not prove its winner better than the default recipe "
              f"(alpha {spec.confirm.alpha}); more trials, seeds or a longer budget may", flush=True)


def run_sweep(spec: SweepSpec, argv: list[str], role: str = "launcher", worker_index: int = 0) -> SweepOutcome:
    """Launcher: check, resume, run (or spawn workers), report. Worker: run trials only."""
    start = time.time()
    apply_worker_threads()
    quiet_libraries()
    cfg = check_against_config(spec)
    check_outputs(cfg)
    url = storage_url(spec.storage)
    storage = open_storage(url)
    study = load_study(spec, storage, offset=1000 * worker_index)
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    experiment_id = experiment_for(cfg)
    if role == "launcher":
        study.set_user_attr("mlflow_tracking_uri", cfg.logger.tracking_uri)
        parent = _parent_run(study, spec, client, experiment_id, masked(url))
        c = counts(study)
        print(f"sweep {spec.name}: study {spec.study_name} on {masked(url)}; {c['COMPLETE']} complete, "
              f"{c['PRUNED']} pruned, {c['FAIL']} failed so far; budget {spec.n_trials}; MLflow parent run {parent}",
              flush=True)
    elif PARENT_ATTR in study.user_attrs:
        parent = study.user_attrs[PARENT_ATTR]
    else:
        raise ConfigError(f"study {spec.study_name!r} has no sweep launcher yet: start `python -m zoo.sweep "
                          f"sweep={spec.name}` once (it creates the MLflow parent run), then add workers")
    try:
        for trial in fail_dead_local_trials(study):
            print(f"[trial {trial.number:>3}] FAIL     its worker {trial.user_attrs.get('worker')} died", flush=True)
        failures = FailureBudget(study, spec)
        output_root = Path(cfg.paths.log_dir) / "sweeps" / spec.study_name
        objective = TrialObjective(spec, parent, cfg.logger.tracking_uri, experiment_id, output_root)
        deadline = start + spec.timeout if spec.timeout else None
        worker_errors = 0
        if role == "launcher" and spec.workers > 1:
            worker_errors = spawn_workers("zoo.sweep", argv, spec.workers)
        else:
            work(study, spec, objective, deadline, failures)
        stopped = failures.exceeded()
        if stopped:
            print(f"stopping: {failures.used()} trials failed in this run (max_failures={spec.max_failures}); "
                  "see why in the summary, fix the spec, and rerun (or raise max_failures=...)",
                  file=sys.stderr, flush=True)
        summary = ""
        if role == "launcher":
            summary = log_report(client, parent, study, spec, masked(url), time.time() - start)
            finished = not _budget_left(study, spec) and not study.get_trials(states=(TrialState.RUNNING,))
            if not spec.registers and spec.register is None:
                print(f"debug recipe (debug={spec.debug}): nothing is registered in the model zoo; give "
                      "register=true to register its best trial anyway", flush=True)
            elif spec.registers and spec.multi_objective:
                print("multi-objective sweep: no single best trial to register; pick one from the Pareto front "
                      "(pareto_front.csv) and run `make register RUN_ID=<its mlflow_run_id>`", flush=True)
            elif spec.registers and spec.confirm.enabled and not (finished and not stopped):
                print("the search is not finished: rerun the command to continue; the winner is confirmed and "
                      "registered once the trial budget is spent", flush=True)
            elif spec.registers and spec.confirm.enabled:
                _confirm_and_register(study, spec, client, cfg, parent, storage, summary)
            elif spec.registers:
                _register_best(study, spec, client, cfg.logger.tracking_uri, parent, objective)
            client.set_terminated(parent, "FAILED" if stopped else "FINISHED" if finished else "KILLED")
            print("\nTop trials\n" + top_table(study, spec), flush=True)
    except BaseException:
        if role == "launcher":
            client.set_terminated(parent, "KILLED")
        raise
    return SweepOutcome(spec.study_name, parent, counts(study), stopped, summary, worker_errors)
