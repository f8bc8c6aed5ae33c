"""A search trial: the recipe composed with the values Optuna suggests, pruned by the spec's
pruner on its first objective, and retrained later when the winner's checkpoint was not kept."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import optuna
from lightning.pytorch.callbacks import Callback

from zoo.config import compose_config
from zoo.secrets import mask
from zoo.sweeps.orchestration.objective import ChildRunObjective, Point
from zoo.sweeps.orchestration.storage import claim_budget
from zoo.sweeps.search.pruning import ValidationPruning
from zoo.sweeps.search.space import suggest, to_overrides
from zoo.sweeps.search.spec import SweepSpec
from zoo.training.pipeline import run_training
from zoo.training.summary import TrainResult


def trial_run_name(study_name: str, number: int, suffix: str = "") -> str:
    """`t007-<study>`: the trial number first, so the MLflow UI's cut-off name column shows it."""
    return f"t{number:03d}-{study_name}{suffix}"


def monitor_overrides(spec: SweepSpec) -> list[str]:
    """Checkpoints, early stopping and pruning watch the spec's first objective."""
    objective = spec.objectives[0]
    return [f"task.monitor={objective.metric}", f"task.monitor_mode={objective.direction.mode}"]


class TrialObjective(ChildRunObjective):
    """Returns the objective value(s) of a trained trial (the best validation value first)."""

    def __init__(self, spec: SweepSpec, parent_run_id: str, tracking_uri: str, experiment_id: str,
                 output_root: Path) -> None:
        super().__init__(mlflow.MlflowClient(tracking_uri), experiment_id, parent_run_id, output_root)
        self.spec = spec

    def overrides(self, trial: optuna.Trial, chosen: dict[str, Any]) -> list[str]:
        return [
            *self.spec.recipe,
            *to_overrides(chosen),
            *monitor_overrides(self.spec),
            f"paths.output_dir={self.output_root}/trial-{trial.number:04d}",
            *([] if self.spec.keep_checkpoints else ["logger.log_checkpoint=false"]),
        ]

    def tags(self, number: int) -> dict[str, str]:
        return {"optuna.study_name": self.spec.study_name, "optuna.trial_number": str(number),
                "zoo.sweep": self.spec.name}

    def choose(self, trial: optuna.Trial) -> Point:
        claim_budget(trial, self.spec.n_trials)
        chosen = suggest(trial, self.spec.search_space)
        return Point(self.overrides(trial, chosen), trial_run_name(self.spec.study_name, trial.number),
                     self.tags(trial.number))

    def callbacks(self, trial: optuna.Trial) -> Sequence[Callback]:
        if self.spec.multi_objective:  # Optuna prunes single-objective studies only
            return ()
        return (ValidationPruning(trial, monitor=self.spec.objectives[0].metric),)

    def values(self, result: TrainResult) -> float | list[float]:
        if result.best_value is None:
            raise RuntimeError(f"the trial produced no {self.spec.objectives[0].metric}: no validation ran")
        values = [result.best_value]
        for objective in self.spec.objectives[1:]:
            values.append(float(result.num_parameters) if objective.metric == "model/params"
                          else result.metrics[objective.metric])
        return values if self.spec.multi_objective else values[0]

    def keep(self, trial: optuna.Trial, result: TrainResult) -> None:
        for key, value in result.metrics.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("model/params", result.num_parameters)

    def retrain(self, trial: optuna.trial.FrozenTrial) -> tuple[str, float | None]:
        """Train a finished trial again with its logged overrides, this time keeping the
        checkpoint (for sweeps with `keep_checkpoints: false`); returns the new run id and
        its objective value, which equals the trial's on the same machine and seed."""
        source = trial.user_attrs["mlflow_run_id"]
        done = self.client.search_runs(
            [self.experiment_id], f"tags.`zoo.retrained_from_run` = '{source}' and attributes.status = 'FINISHED'")
        if done:  # a rerun of a finished sweep: register the retrained run it already has
            return done[0].info.run_id, done[0].data.metrics.get("val/best")
        with tempfile.TemporaryDirectory() as tmp:
            logged = Path(self.client.download_artifacts(source, "overrides.txt", tmp)).read_text().splitlines()
        dropped = ("logger.log_checkpoint=", "paths.output_dir=", "logger.tracking_uri=")  # the last one is masked
        overrides = [o for o in logged if o and not o.startswith(dropped)]
        overrides.append(f"logger.tracking_uri={self.client.tracking_uri}")
        run_id = self.child_run(trial_run_name(self.spec.study_name, trial.number, "-retrained"),
                                {**self.tags(trial.number), "zoo.retrained_from_run": source})
        overrides.append(f"paths.output_dir={self.output_root}/trial-{trial.number:04d}-retrained-{run_id[:8]}")
        self.client.log_text(run_id, mask("\n".join(overrides) + "\n"), "overrides.txt")
        result = run_training(compose_config(overrides), run_id=run_id)
        return run_id, result.best_value
