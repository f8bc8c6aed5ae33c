"""One Optuna trial: compose the recipe with the trial's values, train it exactly as
`zoo.train` does (in process), and track it as a child run of the sweep's MLflow run."""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
import mlflow
import optuna
from lightning.pytorch.callbacks import Callback
from optuna_integration import PyTorchLightningPruningCallback

from zoo import interrupts
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.secrets import mask
from zoo.sweeps.space import suggest, to_overrides
from zoo.sweeps.spec import SweepSpec
from zoo.sweeps.study import worker_id
from zoo.tracking.store import create_child_run
from zoo.training.pipeline import run_training


class EpochCounter(Callback):
    """Training epochs started: what pruning saves is measured in these."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epochs += 1


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]


def trial_run_name(study_name: str, number: int, suffix: str = "") -> str:
    """`t007-<study>`: the trial number first, so the MLflow UI's cut-off name column shows it."""
    return f"t{number:03d}-{study_name}{suffix}"


class TrialObjective:
    """The callable Optuna optimises; returns the objective value(s) of a trained trial."""

    def __init__(self, spec: SweepSpec, parent_run_id: str, tracking_uri: str, experiment_id: str,
                 output_root: Path) -> None:
        self.spec = spec
        self.parent_run_id = parent_run_id
        self.client = mlflow.MlflowClient(tracking_uri)
        self.experiment_id = experiment_id
        self.output_root = output_root

    def overrides(self, trial: optuna.Trial, chosen: dict[str, Any]) -> list[str]:
        objective = self.spec.objectives[0]
        return [
            *self.spec.recipe,
            *to_overrides(chosen),
            f"task.monitor={objective.metric}",
            f"task.monitor_mode={'max' if objective.direction == 'maximize' else 'min'}",
            f"paths.output_dir={self.output_root}/trial-{trial.number:04d}",
            *([] if self.spec.keep_checkpoints else ["logger.log_checkpoint=false"]),
        ]

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        trial.set_user_attr("worker", worker_id())
        chosen = suggest(trial, self.spec.search_space)
        overrides = self.overrides(trial, chosen)
        run_id = self._child_run(trial.number)
        counter = EpochCounter()
        start = time.perf_counter()
        try:
            trial.set_user_attr("mlflow_run_id", run_id)
            self.client.log_text(run_id, mask("\n".join(overrides) + "\n"), "overrides.txt")
            callbacks: list[Callback] = [counter]
            if not self.spec.multi_objective:
                callbacks.append(PyTorchLightningPruningCallback(trial, monitor=self.spec.objectives[0].metric))
            result = run_training(compose_config(overrides), callbacks, run_id=run_id)
            values = self._values(result)
        except optuna.TrialPruned:
            self._finish(trial, run_id, "PRUNED", "KILLED", counter, start)
            raise
        except Exception as err:
            trial.set_user_attr("fail_reason", one_line(err))
            self.client.set_tag(run_id, "optuna.fail_reason", one_line(err))
            if not isinstance(err, ZooError):  # a bug or a resource error: keep the whole story
                self.client.log_text(run_id, traceback.format_exc(), "error.txt")
            self._finish(trial, run_id, "FAIL", "FAILED", counter, start)
            raise
        except BaseException as err:  # SIGTERM/Ctrl+C, or the SystemExit Lightning makes of it: close the run
            self._finish(trial, run_id, "FAIL", "KILLED", counter, start)
            raise interrupts.as_interrupt(err) from None  # a KeyboardInterrupt: Optuna fails the trial now
        for key, value in result.metrics.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("model/params", result.num_parameters)
        self._finish(trial, run_id, "COMPLETE", "FINISHED", counter, start)
        return values if self.spec.multi_objective else values[0]

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
        run_id = self._child_run(trial.number, "-retrained", {"zoo.retrained_from_run": source})
        overrides.append(f"paths.output_dir={self.output_root}/trial-{trial.number:04d}-retrained-{run_id[:8]}")
        self.client.log_text(run_id, mask("\n".join(overrides) + "\n"), "overrides.txt")
        result = run_training(compose_config(overrides), run_id=run_id)
        return run_id, result.best_value

    def _child_run(self, number: int, suffix: str = "", tags: dict[str, str] | None = None) -> str:
        """A run nested under the sweep's parent run, for trial `number`."""
        return create_child_run(
            self.client, self.experiment_id, self.parent_run_id, trial_run_name(self.spec.study_name, number, suffix),
            {"optuna.study_name": self.spec.study_name, "optuna.trial_number": str(number),
             "zoo.sweep": self.spec.name, **(tags or {})})

    def _values(self, result: Any) -> list[float]:
        if result.best_value is None:
            raise RuntimeError(f"the trial produced no {self.spec.objectives[0].metric}: no validation ran")
        values = [result.best_value]
        for objective in self.spec.objectives[1:]:
            values.append(float(result.num_parameters) if objective.metric == "model/params"
                          else result.metrics[objective.metric])
        return values

    def _finish(self, trial: optuna.Trial, run_id: str, state: str, status: str, counter: EpochCounter,
                start: float) -> None:
        trial.set_user_attr("epochs", counter.epochs)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        self.client.set_tag(run_id, "optuna.state", state)
        self.client.log_metric(run_id, "sweep/epochs_trained", counter.epochs)
        self.client.set_terminated(run_id, status)
