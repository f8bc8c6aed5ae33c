"""One trial of any study as one training run: the trial picks a point (a search's values, a
benchmark's seed), the run is an MLflow child run of the study's parent run, trained exactly
as `zoo.train` trains (in process), and closed whatever happens: FINISHED, KILLED when the
trial is pruned or the process stopped, FAILED with its reason on the trial and the run."""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import mlflow
import optuna
from lightning.pytorch.callbacks import Callback

from zoo import interrupts
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.secrets import mask
from zoo.sweeps.orchestration.storage import worker_id
from zoo.tracking.store import create_child_run
from zoo.training.pipeline import run_training
from zoo.training.summary import TrainResult


class EpochCounter(Callback):
    """Training epochs started: what pruning saves is measured in these."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epochs += 1


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]


@dataclass
class Point:
    """What a trial trains: the Hydra overrides, the child run's name and its tags."""

    overrides: list[str]
    run_name: str
    tags: dict[str, str] = field(default_factory=dict)


class ChildRunObjective:
    """The callable Optuna runs for a study whose trials are training runs. A workflow says
    which point a trial trains (`choose`), what else watches it (`callbacks`), what the study
    records (`values`) and what the trial keeps of the result (`keep`)."""

    def __init__(self, client: mlflow.MlflowClient, experiment_id: str, parent_run_id: str,
                 output_root: Path) -> None:
        self.client, self.experiment_id = client, experiment_id
        self.parent_run_id, self.output_root = parent_run_id, output_root

    def choose(self, trial: optuna.Trial) -> Point:
        raise NotImplementedError

    def callbacks(self, trial: optuna.Trial) -> Sequence[Callback]:
        return ()

    def values(self, result: TrainResult) -> float | list[float]:
        raise NotImplementedError

    def keep(self, trial: optuna.Trial, result: TrainResult) -> None:
        """Record on the trial what reports read later (metrics, parameters)."""

    def child_run(self, name: str, tags: dict[str, str]) -> str:
        return create_child_run(self.client, self.experiment_id, self.parent_run_id, name, tags)

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        trial.set_user_attr("worker", worker_id())
        point = self.choose(trial)
        run_id = self.child_run(point.run_name, point.tags)
        trial.set_user_attr("mlflow_run_id", run_id)
        counter = EpochCounter()
        start = time.perf_counter()
        try:  # everything up to the run's closing: a signal anywhere here leaves run and trial alike
            self.client.log_text(run_id, mask("\n".join(point.overrides) + "\n"), "overrides.txt")
            result = run_training(compose_config(point.overrides), [counter, *self.callbacks(trial)],
                                  extra_tags=point.tags, run_id=run_id)
            values = self.values(result)
            self.keep(trial, result)
            self._finish(trial, run_id, "COMPLETE", "FINISHED", counter, start)
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
            # (KILLED even when training had finished it: the chaos soak caught a SIGTERM between the
            # two, which left a FINISHED run under a failed trial)
            self._finish(trial, run_id, "FAIL", "KILLED", counter, start)
            raise interrupts.as_interrupt(err) from None  # a KeyboardInterrupt: Optuna fails the trial now
        return values

    def _finish(self, trial: optuna.Trial, run_id: str, state: str, status: str, counter: EpochCounter,
                start: float) -> None:
        trial.set_user_attr("epochs", counter.epochs)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        self.client.set_tag(run_id, "optuna.state", state)
        self.client.log_metric(run_id, "sweep/epochs_trained", counter.epochs)
        self.client.set_terminated(run_id, status)
