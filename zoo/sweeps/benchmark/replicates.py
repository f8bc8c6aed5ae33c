"""Repeated runs of one recipe over seeds (and cross-validation folds).

Each (seed, fold) is a grid point enqueued in an Optuna study on the sweeps' storage, so a
benchmark resumes after a kill (finished points are kept, a dead worker's point is queued
again), spreads over worker processes and machines, and survives a failed run exactly as
a sweep does. The MLflow side is one parent run per recipe with a child run per point;
the parent holds `<metric>_mean`, `_std`, `_ci95_low`, `_ci95_high`, `n_seeds`, `n_folds`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd
from omegaconf import DictConfig
from optuna.trial import TrialState

from zoo.config import compose_config
from zoo.errors import ConfigError, ZooError
from zoo.stats import Summary, metric_summaries, summary_metrics
from zoo.sweeps.study import PARENT_ATTR, fail_dead_local_trials, name_metrics, reopen_parent_run, worker_id
from zoo.tracking import experiment_for
from zoo.tracking.store import create_child_run
from zoo.training.builders import check_config
from zoo.training.pipeline import run_training

SEED_RANGE = (0, 2**31 - 1)
QUIET = ("callbacks.progress_bar.refresh_rate=0", "trainer.enable_model_summary=false")


@dataclass
class Arm:
    """One recipe repeated: `name` labels its study and MLflow runs, `overrides` compose it."""

    name: str
    overrides: list[str]
    seeds: list[int]
    folds: int | None = None
    recipe: str | None = None  # the conf/experiment name, when the arm is a zoo recipe
    tags: dict[str, str] = field(default_factory=dict)

    def points(self) -> list[dict[str, int]]:
        folds = range(self.folds) if self.folds else [None]
        return [{"seed": s} if k is None else {"seed": s, "fold": k} for s in self.seeds for k in folds]

    @property
    def study_name(self) -> str:
        """Seeds are not part of it: asking for more seeds later reuses the runs already made."""
        content = json.dumps({"overrides": self.overrides, "folds": self.folds}, sort_keys=True)
        return f"bench-{self.name}-{hashlib.sha256(content.encode()).hexdigest()[:10]}"

    def point_overrides(self, point: dict[str, int], output_root: Path | None = None) -> list[str]:
        out = [*self.overrides, *QUIET, f"seed={point['seed']}"]
        if self.folds:
            out += [f"data.cv_folds={self.folds}", f"data.cv_fold={point['fold']}"]
        if output_root is not None:
            out.append(f"paths.output_dir={output_root}/{self.study_name}/{point_label(point)}")
        return out

    def compose(self, point: dict[str, int] | None = None) -> DictConfig:
        """The config of one point (the first by default), checked as `zoo.train` checks it."""
        overrides = self.point_overrides(point or self.points()[0])
        try:
            cfg = compose_config(overrides)
        except Exception as err:  # noqa: BLE001 - Hydra's composition errors, reworded
            raise ConfigError(f"{self.name}: the overrides {self.overrides} do not compose: "
                              f"{str(err).splitlines()[0]}") from None
        check_config(cfg)
        if cfg.trainer.get("max_time") is not None:
            raise ConfigError(
                f"{self.name} sets trainer.max_time={cfg.trainer.max_time}: a run cut by wall time depends on the "
                "machine's load, so benchmarks refuse it; bound it by trainer.max_epochs or trainer.max_steps")
        return cfg


def point_label(point: dict[str, int]) -> str:
    return f"seed{point['seed']}" + (f"-fold{point['fold']}" if "fold" in point else "")


def replicate_run_name(arm: Arm, point: dict[str, int]) -> str:
    """A seed's child run: `s0-<arm>` (`s0-f1-<arm>` for a fold), or `t007-s0-<study>` when the
    arm confirms trial 7: what tells siblings apart comes first, where the MLflow UI's cut-off
    name column still shows it."""
    seed = f"s{point['seed']}" + (f"-f{point['fold']}" if "fold" in point else "")
    trial = str(arm.tags.get("zoo.confirms_trial", ""))
    if trial.isdigit():
        return f"t{int(trial):03d}-{seed}-{arm.name.removesuffix(f'-trial{trial}')}"
    return f"{seed}-{arm.name}"


@dataclass
class RunRecord:
    point: dict[str, int]
    run_id: str
    metrics: dict[str, float]


@dataclass
class ArmResult:
    arm: Arm
    parent_run_id: str
    runs: list[RunRecord]
    missing: list[dict[str, int]]
    summaries: dict[str, Summary]

    def values(self, metric: str) -> list[float]:
        return [r.metrics[metric] for r in self.runs if metric in r.metrics]

    def first_run(self) -> RunRecord:
        """The run of the lowest seed (and fold): the model a recipe keeps in the registry."""
        return min(self.runs, key=lambda r: (r.point["seed"], r.point.get("fold", 0)))


class QueueOnlySampler(optuna.samplers.RandomSampler):
    """Grid points come only from the queue. A worker that lost the race for the last queued
    point gets a trial with nothing fixed: it is pruned at once instead of inventing a seed."""

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                           param_distribution: optuna.distributions.BaseDistribution) -> Any:
        raise optuna.TrialPruned("no queued grid point left (another worker took it)")


class ReplicateObjective:
    """Train one grid point as a child run of the arm's parent run; return the best
    validation value (what the study records; the statistics use every logged metric)."""

    def __init__(self, arm: Arm, parent_run_id: str, client: mlflow.MlflowClient, experiment_id: str,
                 output_root: Path) -> None:
        self.arm, self.parent_run_id, self.client = arm, parent_run_id, client
        self.experiment_id, self.output_root = experiment_id, output_root

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        point = {"seed": trial.suggest_int("seed", *SEED_RANGE)}
        if self.arm.folds:
            point["fold"] = trial.suggest_int("fold", 0, self.arm.folds - 1)
        twin = _twin(trial, point)
        if twin is not None:
            raise optuna.TrialPruned(f"grid point {point} is already trial {twin}")
        tags = {"optuna.study_name": self.arm.study_name, "optuna.trial_number": str(trial.number),
                "zoo.benchmark": self.arm.name, **({"zoo.recipe": self.arm.recipe} if self.arm.recipe else {}),
                **({"zoo.cv_fold": str(point["fold"])} if "fold" in point else {}), **self.arm.tags}
        run_id = create_child_run(self.client, self.experiment_id, self.parent_run_id,
                                  replicate_run_name(self.arm, point), tags)
        trial.set_user_attr("mlflow_run_id", run_id)
        start = time.perf_counter()
        try:
            cfg = compose_config(self.arm.point_overrides(point, self.output_root))
            result = run_training(cfg, extra_tags=tags, run_id=run_id)
        except Exception as err:
            trial.set_user_attr("fail_reason", f"{type(err).__name__}: {str(err).strip()[:400]}")
            self.client.set_terminated(run_id, "FAILED")
            raise
        except BaseException:  # Ctrl+C: close the run, let the trial be queued again on rerun
            self.client.set_terminated(run_id, "KILLED")
            raise
        if result.best_value is None:
            raise RuntimeError(f"run {run_id} produced no {result.monitor}: no validation ran")
        metrics = {**result.metrics, "val/best": result.best_value}
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        return result.best_value


def _twin(trial: optuna.Trial, point: dict[str, int]) -> int | None:
    """Another live or finished trial of the same grid point (only after a lost race)."""
    for other in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE)):
        if other.number != trial.number and other.params == point:
            return other.number
    return None


def open_arm_study(arm: Arm, storage: optuna.storages.BaseStorage, direction: str) -> optuna.Study:
    return optuna.create_study(study_name=arm.study_name, storage=storage, direction=direction,
                               sampler=QueueOnlySampler(), load_if_exists=True)


def parent_run(study: optuna.Study, arm: Arm, client: mlflow.MlflowClient, experiment_id: str,
               nested_under: str | None = None) -> str:
    """The arm's MLflow parent run: created with the study, reopened on a rerun."""
    run_id = reopen_parent_run(study, client, "delete the study from the Optuna storage")
    if run_id:
        return run_id
    tags = {"zoo.benchmark": arm.name, "optuna.study_name": arm.study_name, **arm.tags,
            **({"zoo.recipe": arm.recipe} if arm.recipe else {}),
            **({"mlflow.parentRunId": nested_under} if nested_under else {})}
    run = client.create_run(experiment_id, run_name=f"benchmark-{arm.name}", tags=tags)
    client.log_text(run.info.run_id, "\n".join(arm.overrides) + "\n", "overrides.txt")
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id


def enqueue_missing(study: optuna.Study, points: list[dict[str, int]]) -> int:
    """Queue every point with no complete, running or waiting trial; return how many."""
    covered = [t.params or t.system_attrs.get("fixed_params", {})
               for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING,
                                                                 TrialState.WAITING))]
    queued = 0
    for point in points:
        if point not in covered:
            study.enqueue_trial(point)
            queued += 1
    return queued


def _progress(arm: Arm):
    total = len(arm.points())

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not trial.params:  # a pruned stray: nothing ran
            return
        metrics = trial.user_attrs.get("metrics", {})
        shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.startswith(("test/acc", "test/loss",
                                                                                       "val/best")))
        done = len(collect(study, arm)[0])
        print(f"[{arm.name}] {point_label(trial.params):<14} {trial.state.name:<8} "
              f"{shown or trial.user_attrs.get('fail_reason', '')}  {trial.user_attrs.get('seconds', '-')}s  "
              f"({done}/{total} done)", flush=True)

    return callback


def work(study: optuna.Study, objective: ReplicateObjective) -> None:
    """Take queued points one at a time until none is left (several workers may share them)."""
    progress = _progress(objective.arm)
    while study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[progress], gc_after_trial=True)


def collect(study: optuna.Study, arm: Arm) -> tuple[list[RunRecord], list[dict[str, int]]]:
    """The complete run of each requested point (the first, if a race made two), and the
    points that have none yet."""
    runs: dict[str, RunRecord] = {}
    for trial in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
        key = json.dumps(trial.params, sort_keys=True)
        if key not in runs and "metrics" in trial.user_attrs:
            runs[key] = RunRecord(dict(trial.params), trial.user_attrs["mlflow_run_id"], trial.user_attrs["metrics"])
    wanted = [json.dumps(p, sort_keys=True) for p in arm.points()]
    return [runs[k] for k in wanted if k in runs], [json.loads(k) for k in wanted if k not in runs]


def failure_reasons(study: optuna.Study) -> dict[str, str]:
    """Why the latest attempt at each failed point failed, for the report."""
    reasons = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reasons[point_label(trial.params or {"seed": -1})] = trial.user_attrs.get(
            "fail_reason", "its worker died or lost its heartbeat")
    return reasons


def log_parent(client: mlflow.MlflowClient, result: ArmResult) -> None:
    """Statistics, counts and the per-run table on the arm's parent run; FINISHED only when
    every requested point has a run."""
    run_id, arm = result.parent_run_id, result.arm
    metrics = summary_metrics(result.summaries)
    metrics.update({"n_seeds": len({r.point["seed"] for r in result.runs}), "n_runs": len(result.runs),
                    "n_folds": arm.folds or 1})
    step = int(time.time())  # a rerun with more seeds appends a newer value; the UI shows the latest
    client.log_batch(run_id, metrics=[mlflow.entities.Metric(k, float(v), int(time.time() * 1000), step)
                                      for k, v in metrics.items()])
    client.set_tag(run_id, "zoo.seeds", ",".join(map(str, arm.seeds)))
    client.set_tag(run_id, "zoo.folds", str(arm.folds or 0))
    rows = [{**r.point, "run_id": r.run_id, **r.metrics} for r in result.runs]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED" if not result.missing else "FAILED")


@dataclass
class Prepared:
    """An arm ready to run: its study, MLflow parent run and objective."""

    arm: Arm
    study: optuna.Study
    parent_run_id: str
    client: mlflow.MlflowClient
    objective: ReplicateObjective


def prepare(arm: Arm, storage: optuna.storages.BaseStorage, role: str = "launcher",
            nested_under: str | None = None) -> Prepared:
    """Launcher: open the study and parent run, fail dead workers' trials, queue the missing
    points. Worker: join the study a launcher prepared."""
    cfg = arm.compose()
    tracking_uri = cfg.logger.tracking_uri
    client = mlflow.MlflowClient(tracking_uri)
    experiment_id = experiment_for(cfg)
    study = open_arm_study(arm, storage, "maximize" if cfg.task.monitor_mode == "max" else "minimize")
    if role == "launcher":
        name_metrics(study, [f"best {cfg.task.monitor}"])
    for trial in fail_dead_local_trials(study):
        print(f"[{arm.name}] {point_label(trial.params or {'seed': -1})}: its worker "
              f"{trial.user_attrs.get('worker')} died; it runs again", flush=True)
    if role == "launcher":
        study.set_user_attr("mlflow_tracking_uri", tracking_uri)
        parent = parent_run(study, arm, client, experiment_id, nested_under)
        queued = enqueue_missing(study, arm.points())
        print(f"[{arm.name}] {len(arm.points())} runs: {len(arm.points()) - queued} done before, {queued} to run; "
              f"MLflow parent run {parent}", flush=True)
    elif PARENT_ATTR in study.user_attrs:
        parent = study.user_attrs[PARENT_ATTR]
    else:
        raise ZooError(f"benchmark {arm.name} has no launcher yet: start the same command without role=worker "
                       "first (it queues the runs), then add workers")
    objective = ReplicateObjective(arm, parent, client, experiment_id, Path(cfg.paths.log_dir) / "benchmarks")
    return Prepared(arm, study, parent, client, objective)


def finish(prepared: Prepared) -> ArmResult:
    """Collect the arm's runs and log their statistics on the parent run."""
    runs, missing = collect(prepared.study, prepared.arm)
    result = ArmResult(prepared.arm, prepared.parent_run_id, runs, missing,
                       metric_summaries([r.metrics for r in runs]))
    log_parent(prepared.client, result)
    return result


def run_arms(arms: list[Arm], storage: optuna.storages.BaseStorage, nested_under: str | None = None
             ) -> list[ArmResult]:
    """Prepare, run in this process and finish each arm, in order (sweep confirmation)."""
    results = []
    for arm in arms:
        prepared = prepare(arm, storage, nested_under=nested_under)
        try:
            work(prepared.study, prepared.objective)
        except BaseException:
            prepared.client.set_terminated(prepared.parent_run_id, "KILLED")
            raise
        results.append(finish(prepared))
    return results
