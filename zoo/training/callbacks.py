"""Lightning callbacks lstm-zoo adds: throughput per epoch, a stop on non-finite loss, and a
warning when the training loss never decreases."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from zoo.errors import TrainingError
from zoo.tasks import ZooTask


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Real tokens in a batch of a module that is no ZooTask (which answers itself, as
    `ZooTask.batch_tokens`); kept for `zoo.bench`, which counts batches without a module."""
    if "lengths" in batch:
        return int(batch["lengths"].sum())
    return int(batch["input_ids"].numel())


class EpochThroughput(Callback):
    """Logs `perf/epoch_time_s` and `perf/train_tokens_per_s` for every training epoch.

    Time covers the training batches only (validation runs are excluded), so the figure
    is comparable between runs that validate at different intervals.
    """

    def __init__(self) -> None:
        self._tokens = 0
        self._seconds = 0.0
        self._batch_start = 0.0
        self._epoch_start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._tokens, self._seconds = 0, 0.0
        self._epoch_start = time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._seconds += time.perf_counter() - self._batch_start
        self._tokens += pl_module.batch_tokens(batch) if isinstance(pl_module, ZooTask) else batch_tokens(batch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._seconds > 0:
            pl_module.log("perf/epoch_time_s", time.perf_counter() - self._epoch_start)
            pl_module.log("perf/train_tokens_per_s", self._tokens / self._seconds)


class NonFiniteLossGuard(Callback):
    """Stops training with a clear error the first time the training loss is NaN or inf.

    Raising inside `fit` makes Lightning finalize the MLflow run as FAILED.
    """

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingError(
                f"training loss became {float(loss)} at epoch {trainer.current_epoch}, "
                f"step {trainer.global_step}. Lower the learning rate "
                "(task.module.optimizer.lr=...), clip gradients (trainer.gradient_clip_val=1.0), "
                "or check the data for empty or corrupt rows."
            )


LOSS_TAG = "zoo.loss_never_decreased"  # set "true" on a run whose training loss never went below its first


class LossProgressCheck(Callback):
    """Warns loudly (and tags the MLflow run) when no training loss after the first batch
    was lower than the first: a learning rate far too large, or nothing to learn."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.best = math.inf
        self.steps = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss)
        if self.first is None:
            self.first = value
        else:
            self.best = min(self.best, value)
        self.steps += 1

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.first is None or self.steps < 2 or self.best < self.first:
            return
        message = (f"WARNING: the training loss never decreased: first {self.first:.4g}, best after it "
                   f"{self.best:.4g} over {self.steps} steps. The model has not learned; lower the learning "
                   "rate (task.module.optimizer.lr=0.001) or train longer, and do not trust its test metrics.")
        print(message, file=sys.stderr, flush=True)
        run_id = getattr(trainer.logger, "run_id", None)
        if run_id is not None:
            trainer.logger.experiment.set_tag(run_id, LOSS_TAG, "true")
