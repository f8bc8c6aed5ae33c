"""Repeated runs of one recipe over seeds (and cross-validation folds), on the shared
orchestration.

Each (seed, fold) is a grid point enqueued in an Optuna study on the sweeps' storage, so a
benchmark resumes after a kill (finished points are kept, a dead worker's point is queued
again), spreads over worker processes and machines, and survives a failed run exactly as
a sweep does. The MLflow side is one parent run per recipe with a child run per point;
the parent holds `<metric>_mean`, `_std`, `_ci95_low`, `_ci95_high`, `n_seeds`, `n_folds`.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd
from optuna.trial import TrialState

from zoo.direction import Direction
from zoo.stats import metric_summaries, summary_metrics
from zoo.sweeps.benchmark.arms import SEED_RANGE, Arm, ArmResult, RunRecord, point_label, replicate_run_name
from zoo.sweeps.orchestration.loop import launch, work
from zoo.sweeps.orchestration.objective import ChildRunObjective, Point
from zoo.sweeps.orchestration.runs import joined_parent_run, open_parent_run
from zoo.sweeps.orchestration.storage import fail_dead_local_trials, name_metrics
from zoo.tasks import kind_of_config
from zoo.tracking import experiment_for
from zoo.training.summary import TrainResult


class QueueOnlySampler(optuna.samplers.RandomSampler):
    """Grid points come only from the queue. A worker that lost the race for the last queued
    point gets a trial with nothing fixed: it is pruned at once instead of inventing a seed."""

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                           param_distribution: optuna.distributions.BaseDistribution) -> Any:
        raise optuna.TrialPruned("no queued grid point left (another worker took it)")


class ReplicateObjective(ChildRunObjective):
    """Train one grid point; the study records the best validation value, the statistics use
    every metric the run logged."""

    def __init__(self, arm: Arm, parent_run_id: str, client: mlflow.MlflowClient, experiment_id: str,
                 output_root: Path) -> None:
        super().__init__(client, experiment_id, parent_run_id, output_root)
        self.arm = arm

    def choose(self, trial: optuna.Trial) -> Point:
        point = {"seed": trial.suggest_int("seed", *SEED_RANGE)}
        if self.arm.folds:
            point["fold"] = trial.suggest_int("fold", 0, self.arm.folds - 1)
        twin = _twin(trial, point)
        if twin is not None:
            raise optuna.TrialPruned(f"grid point {point} is already trial {twin}")
        arm = self.arm
        tags = {"optuna.study_name": arm.study_name, "optuna.trial_number": str(trial.number),
                "zoo.benchmark": arm.name, **({"zoo.recipe": arm.recipe} if arm.recipe else {}),
                **({"zoo.cv_fold": str(point["fold"])} if "fold" in point else {}), **arm.tags}
        return Point(arm.point_overrides(point, self.output_root), replicate_run_name(arm, point), tags)

    def values(self, result: TrainResult) -> float:
        if result.best_value is None:
            raise RuntimeError(f"run {result.run_id} produced no {result.monitor}: no validation ran")
        return result.best_value

    def keep(self, trial: optuna.Trial, result: TrainResult) -> None:
        trial.set_user_attr("metrics", {**result.metrics, "val/best": result.best_value})


def _twin(trial: optuna.Trial, point: dict[str, int]) -> int | None:
    """Another live or finished trial of the same grid point (only after a lost race)."""
    for other in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE)):
        if other.number != trial.number and other.params == point:
            return other.number
    return None


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


def _progress(arm: Arm, primary: str):
    """`[arm] seed1  COMPLETE test/acc=0.8740  val/best=0.8611  41.2s  (2/5 done)`: the task kind's
    primary test metric and the best validation value of each finished seed."""
    total = len(arm.points())

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not trial.params:  # a pruned stray: nothing ran
            return
        metrics = trial.user_attrs.get("metrics", {})
        shown = "  ".join(f"{k}={metrics[k]:.4f}" for k in (primary, "val/best") if k in metrics)
        done = len(collect(study, arm)[0])
        print(f"[{arm.name}] {point_label(trial.params):<14} {trial.state.name:<8} "
              f"{shown or trial.user_attrs.get('fail_reason', '')}  {trial.user_attrs.get('seconds', '-')}s  "
              f"({done}/{total} done)", flush=True)

    return callback


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


class Replicates:
    """One arm ready to run (a job of the orchestration): its study, MLflow parent run and
    objective. Launcher: open the study and parent run, fail dead workers' trials, queue the
    missing points. Worker: join the study a launcher prepared."""

    def __init__(self, arm: Arm, storage: optuna.storages.BaseStorage, role: str = "launcher",
                 nested_under: str | None = None) -> None:
        cfg = arm.compose()
        self.arm, tracking_uri = arm, cfg.logger.tracking_uri
        self.client = mlflow.MlflowClient(tracking_uri)
        experiment_id = experiment_for(cfg)
        self.study = optuna.create_study(study_name=arm.study_name, storage=storage,
                                         direction=Direction.of(cfg.task.monitor_mode).optuna,
                                         sampler=QueueOnlySampler(), load_if_exists=True)
        if role == "launcher":
            name_metrics(self.study, [f"best {cfg.task.monitor}"])
        for trial in fail_dead_local_trials(self.study):
            print(f"[{arm.name}] {point_label(trial.params or {'seed': -1})}: its worker "
                  f"{trial.user_attrs.get('worker', '(unnamed)')} died; it runs again", flush=True)
        if role == "launcher":
            self.study.set_user_attr("mlflow_tracking_uri", tracking_uri)
            self.parent_run_id = self._parent_run(experiment_id, nested_under)
            queued = enqueue_missing(self.study, arm.points())
            print(f"[{arm.name}] {len(arm.points())} runs: {len(arm.points()) - queued} done before, {queued} to "
                  f"run; MLflow parent run {self.parent_run_id}", flush=True)
        else:
            self.parent_run_id = joined_parent_run(self.study, f"benchmark {arm.name} has no launcher yet: start the "
                                                   "same command without role=worker first (it queues the runs), "
                                                   "then add workers")
        self.primary = kind_of_config(cfg).primary
        self.objective = ReplicateObjective(arm, self.parent_run_id, self.client, experiment_id,
                                            Path(cfg.paths.log_dir) / "benchmarks")

    def _parent_run(self, experiment_id: str, nested_under: str | None) -> str:
        arm = self.arm
        run_id, created = open_parent_run(
            self.study, self.client, experiment_id, f"benchmark-{arm.name}",
            {"zoo.benchmark": arm.name, "optuna.study_name": arm.study_name, **arm.tags,
             **({"zoo.recipe": arm.recipe} if arm.recipe else {})},
            "delete the study from the Optuna storage", nested_under)
        if created:
            self.client.log_text(run_id, "\n".join(arm.overrides) + "\n", "overrides.txt")
        return run_id

    def work(self) -> None:
        """Take queued points one at a time until none is left (several workers may share them)."""
        work(self.study, self.objective, _progress(self.arm, self.primary),
             lambda: bool(self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))))

    def abort(self) -> None:
        self.client.set_terminated(self.parent_run_id, "KILLED")

    def finish(self) -> ArmResult:
        """Collect the arm's runs and log their statistics on the parent run."""
        runs, missing = collect(self.study, self.arm)
        result = ArmResult(self.arm, self.parent_run_id, runs, missing, metric_summaries([r.metrics for r in runs]))
        log_parent(self.client, result)
        return result


def run_arms(arms: list[Arm], storage: optuna.storages.BaseStorage, nested_under: str | None = None
             ) -> list[ArmResult]:
    """Prepare, run in this process and finish each arm, in order (confirmation, the zoo)."""
    results = []
    for arm in arms:
        job = Replicates(arm, storage, nested_under=nested_under)
        launch([job], "launcher", 1, "", [])
        results.append(job.finish())
    return results
