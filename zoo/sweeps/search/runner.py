"""Run a search: resume its study, run trials in this process or in N worker processes,
stop at the budget, at the failure limit or at the timeout, then report to MLflow and hand
the winner to the zoo. A `Search` is one job of the shared orchestration, so a comparison
runs searches the same way `zoo.sweep` does."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from zoo.config import flatten
from zoo.secrets import mask
from zoo.sweeps.orchestration.loop import eta_seconds, format_eta, launch, work
from zoo.sweeps.orchestration.runs import close_open_children, joined_parent_run, open_parent_run
from zoo.sweeps.orchestration.storage import counts, fail_dead_local_trials, failures, masked, open_storage, storage_url
from zoo.sweeps.orchestration.workers import apply_worker_threads, quiet_libraries
from zoo.sweeps.search.check import check_against_config
from zoo.sweeps.search.objective import TrialObjective
from zoo.sweeps.search.report import log_report, top_table
from zoo.sweeps.search.spec import SweepSpec
from zoo.sweeps.search.studies import load_study
from zoo.sweeps.search.winner import confirm_and_register, register_best
from zoo.tracking import experiment_for
from zoo.training.builders import check_outputs


@dataclass
class SweepOutcome:
    study_name: str
    parent_run_id: str
    counts: dict[str, int]
    stopped_by_failures: bool
    summary: str
    worker_errors: int = 0


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
                         trial.user_attrs.get("seconds", "-"), done, spec.n_trials, failures(study),
                         _best_so_far(study, names), eta), flush=True)

    return callback


class FailureBudget:
    """Failures of this invocation (earlier runs' and dead workers' are not held against it)."""

    def __init__(self, study: optuna.Study, spec: SweepSpec) -> None:
        self.study, self.limit = study, spec.max_failures
        self.before = failures(study)

    def used(self) -> int:
        return failures(self.study) - self.before

    def exceeded(self) -> bool:
        return self.used() > self.limit


def spec_params(spec: SweepSpec) -> dict[str, object]:
    """The spec as the parent run's params and `sweep_spec.yaml`."""
    spec_dict = {k: v for k, v in vars(spec).items() if k not in ("objectives", "search_space")}
    spec_dict["objectives"] = [f"{o.metric}:{o.direction.optuna}" for o in spec.objectives]
    spec_dict["confirm"] = dict(vars(spec.confirm))
    spec_dict["search_space"] = {k: {f: v for f, v in vars(p).items() if v not in (None, (), False)}
                                 for k, p in spec.search_space.items()}
    return spec_dict


class Search:
    """One search ready to run: its study resumed, its parent run open (a launcher's) or
    joined (a worker's), dead local workers' trials failed, and its objective."""

    def __init__(self, spec: SweepSpec, role: str = "launcher", worker_index: int = 0,
                 nested_under: str | None = None, start: float | None = None) -> None:
        self.spec, self.role = spec, role
        self.start = time.time() if start is None else start
        self.cfg = check_against_config(spec)
        check_outputs(self.cfg)
        self.url = storage_url(spec.storage)
        self.storage = open_storage(self.url)
        self.study = load_study(spec, self.storage, offset=1000 * worker_index)
        self.client = mlflow.MlflowClient(self.cfg.logger.tracking_uri)
        experiment_id = experiment_for(self.cfg)
        if role == "launcher":
            self.study.set_user_attr("mlflow_tracking_uri", self.cfg.logger.tracking_uri)
            self.parent = self._parent_run(experiment_id, nested_under)
            c = counts(self.study)
            print(f"sweep {spec.name}: study {spec.study_name} on {masked(self.url)}; {c['COMPLETE']} complete, "
                  f"{c['PRUNED']} pruned, {c['FAIL']} failed so far; budget {spec.n_trials}; MLflow parent run "
                  f"{self.parent}", flush=True)
        else:
            self.parent = joined_parent_run(self.study, f"study {spec.study_name!r} has no sweep launcher yet: start "
                                            f"`python -m zoo.sweep sweep={spec.name}` once (it creates the MLflow "
                                            "parent run), then add workers")
        for trial in fail_dead_local_trials(self.study):
            worker = trial.user_attrs.get("worker", "(unnamed)")
            print(f"[trial {trial.number:>3}] FAIL     its worker {worker} died", flush=True)
        self.failures = FailureBudget(self.study, spec)
        output_root = Path(self.cfg.paths.log_dir) / "sweeps" / spec.study_name
        self.objective = TrialObjective(spec, self.parent, self.cfg.logger.tracking_uri, experiment_id, output_root)

    def _parent_run(self, experiment_id: str, nested_under: str | None) -> str:
        run_id, created = open_parent_run(
            self.study, self.client, experiment_id, f"sweep-{self.spec.study_name}",
            {"zoo.sweep": self.spec.name, "optuna.study_name": self.spec.study_name,
             "optuna.storage": masked(self.url)}, "start a new study with study_name=<new name>", nested_under)
        if created:
            spec_dict = spec_params(self.spec)
            self.client.log_batch(run_id, params=[mlflow.entities.Param(k, mask(v)[:6000])  # storage password: ***
                                                  for k, v in flatten(spec_dict).items()])
            self.client.log_text(run_id, mask(OmegaConf.to_yaml(spec_dict)), "sweep_spec.yaml")
        return run_id

    def budget_left(self) -> bool:
        c = counts(self.study)
        return c["COMPLETE"] + c["PRUNED"] + c["RUNNING"] < self.spec.n_trials

    def more(self) -> bool:
        """Another trial: budget left, failures within the limit, and before the timeout."""
        if not self.budget_left() or self.failures.exceeded():
            return False
        if self.spec.timeout and time.time() >= self.start + self.spec.timeout:
            print(f"timeout of {self.spec.timeout} s reached; rerun the command to continue", flush=True)
            return False
        return True

    def work(self) -> None:
        work(self.study, self.objective, _progress(self.spec), self.more)

    def abort(self) -> None:
        self.client.set_terminated(self.parent, "KILLED")

    def finished(self) -> bool:
        return not self.budget_left() and not self.study.get_trials(states=(TrialState.RUNNING,))

    def finish(self, register: bool = True) -> str:
        """Report to the parent run, hand the winner to the zoo (when `register` and the spec
        registers), close the parent run; returns the summary markdown."""
        spec, stopped = self.spec, self.failures.exceeded()
        if stopped:
            print(f"stopping: {self.failures.used()} trials failed in this run (max_failures={spec.max_failures}); "
                  "see why in the summary, fix the spec, and rerun (or raise max_failures=...)",
                  file=sys.stderr, flush=True)
        summary = log_report(self.client, self.parent, self.study, spec, masked(self.url), time.time() - self.start)
        finished = self.finished()
        if finished:
            for run_id in close_open_children(self.client, self.parent):
                print(f"closed child run {run_id}: it was left RUNNING by a worker that stopped", flush=True)
        if register:
            self._hand_over(summary, finished and not stopped)
        self.client.set_terminated(self.parent, "FAILED" if stopped else "FINISHED" if finished else "KILLED")
        print("\nTop trials\n" + top_table(self.study, spec), flush=True)
        return summary

    def _hand_over(self, summary: str, complete: bool) -> None:
        spec, tracking_uri = self.spec, self.cfg.logger.tracking_uri
        if not spec.registers and spec.register is None:
            print(f"debug recipe (debug={spec.debug}): nothing is registered in the model zoo; give "
                  "register=true to register its best trial anyway", flush=True)
        elif spec.registers and spec.multi_objective:
            print("multi-objective sweep: no single best trial to register; pick one from the Pareto front "
                  "(pareto_front.csv) and run `make register RUN_ID=<its mlflow_run_id>`", flush=True)
        elif spec.registers and not complete:
            print("the search is not finished: rerun the command to continue; its winner is "
                  f"{'confirmed and ' if spec.confirm.enabled else ''}registered once the trial budget is spent",
                  flush=True)
        elif spec.registers and spec.confirm.enabled:
            confirm_and_register(self.study, spec, self.client, self.cfg, self.parent, self.storage, summary)
        elif spec.registers:
            register_best(self.study, spec, self.client, tracking_uri, self.parent, self.objective)


def run_sweep(spec: SweepSpec, argv: list[str], role: str = "launcher", worker_index: int = 0) -> SweepOutcome:
    """Launcher: check, resume, run (or spawn workers), report. Worker: run trials only."""
    start = time.time()
    apply_worker_threads()
    quiet_libraries()
    search = Search(spec, role, worker_index, start=start)
    worker_errors = launch([search], role, spec.workers, "zoo.sweep", argv)
    summary = ""
    if role != "launcher" and search.failures.exceeded():
        print(f"stopping: {search.failures.used()} trials failed in this worker (max_failures={spec.max_failures})",
              file=sys.stderr, flush=True)
    if role == "launcher":
        try:
            summary = search.finish()
        except BaseException:
            search.abort()
            raise
    return SweepOutcome(spec.study_name, search.parent, counts(search.study), search.failures.exceeded(), summary,
                        worker_errors)
