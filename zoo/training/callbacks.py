"""Lightning callbacks lstm-zoo adds: throughput per epoch, a stop on non-finite loss, a
validation pass before a step budget ends a run that never validated, a warning when the
training loss never decreases, one progress line per epoch and a progress bar that shows the
loss and the monitored metric."""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from tqdm import tqdm

from zoo.errors import TrainingError
from zoo.quiet import PROGRESS
from zoo.tasks import ZooTask


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Real tokens in a batch of a module that is no ZooTask (which answers itself, as
    `ZooTask.batch_tokens`); kept for `zoo.training.pipeline_speed`, which counts batches without a module."""
    if "lengths" in batch:
        return int(batch["lengths"].sum())
    return int(batch["input_ids"].numel())


TOKENS_PER_S = "perf/train_tokens_per_s"  # logged by EpochThroughput, read by EpochLine


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
            pl_module.log(TOKENS_PER_S, self._tokens / self._seconds)


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


class ValidateBeforeStepLimit(Callback):
    """Validates before `trainer.max_steps` ends a run that has not validated yet.

    Lightning validates at the end of an epoch (or every `val_check_interval`), so a step budget
    shorter than that would end training with no `val/...` metric at all: early stopping fails on
    the missing metric (a RuntimeError) and no best checkpoint is kept to test and register.
    Asking to stop (`trainer.should_stop`, as early stopping itself does) at the last step makes
    Lightning's epoch loop run one validation pass before it ends. Runs that validated already
    keep their schedule unchanged."""

    def __init__(self) -> None:
        self.validated = False

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.validated = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validated = True

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.validated and 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


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


def _loss_of(outputs: Any) -> float | None:
    loss = outputs["loss"] if isinstance(outputs, dict) else outputs
    return None if loss is None else float(loss)


def format_duration(seconds: float) -> str:
    """`45s`, `1m23s`, `2h05m`: how long, at a glance."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_epoch_line(epoch: int, max_epochs: int | None, train_loss: float | None, monitor: str,
                      value: float | None, best: float | None, tokens_per_s: float | None, seconds: float,
                      step: int | None = None, max_steps: int | None = None) -> str:
    """`epoch 3/10  train/loss 0.412  val/acc 0.8452  best 0.8452  12,345 tok/s  1m23s` (a value
    not measured yet is `-`; a step-bounded run says `step 120/1100` after the epoch)."""
    def number(x: float | None, digits: int) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    head = f"epoch {epoch}/{max_epochs}" if max_epochs and max_epochs > 0 else f"epoch {epoch}"
    if max_steps and max_steps > 0:
        head += f" (step {step}/{max_steps})"
    speed = "-" if tokens_per_s is None else f"{tokens_per_s:,.0f}"
    return (f"{head}  train/loss {number(train_loss, 3)}  {monitor} {number(value, 4)}  best {number(best, 4)}  "
            f"{speed} tok/s  {format_duration(seconds)}")


class EpochLine(Callback):
    """One line per training epoch through `logging` (logger `zoo.progress`), for example
    `epoch 3/10  train/loss 0.412  val/acc 0.8452  best 0.8452  12,345 tok/s  1m23s`.

    Why: a progress bar is gone once it redraws, is turned off in sweeps and is unreadable in a
    log file, while this line reaches the console and Hydra's log file of the run (and a sweep's
    output, `zoo.quiet.progress_to_console`). `monitor`/`mode` are the config's `task.monitor` and
    `task.monitor_mode`; tokens/s is what `EpochThroughput` logged, not measured again.

    Lightning calls the module's `on_train_epoch_end` (where `train/loss` is logged) after this
    callback's, so an epoch's line is written when the next epoch starts or training ends.
    """

    def __init__(self, monitor: str, mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.logger = logging.getLogger(PROGRESS)
        self.best: float | None = None
        self._start = time.perf_counter()
        self._pending: tuple[int, float] | None = None  # (epoch, seconds since fit started)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.best, self._pending = None, None
        self._start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        value = float(value)
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = value

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pending = (trainer.current_epoch + 1, time.perf_counter() - self._start)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        if self._pending is None or not trainer.is_global_zero:
            return
        epoch, seconds = self._pending
        self._pending = None
        metrics = trainer.callback_metrics

        def get(name: str) -> float | None:
            return float(metrics[name]) if name in metrics else None

        line = format_epoch_line(epoch, trainer.max_epochs, get("train/loss"), self.monitor, get(self.monitor),
                                 self.best, get(TOKENS_PER_S), seconds, trainer.global_step, trainer.max_steps)
        with tqdm.external_write_mode():  # a live bar is cleared, the line written, the bar redrawn below it
            self.logger.info(line)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ZooProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar showing what a person watches: the epoch's running training loss
    (`loss`) and the last value of the monitored validation metric, instead of `v_num` (the tail
    of the MLflow run id, which means nothing on screen). `refresh_rate=0` turns it off, and so
    does output that is no terminal (CI, `> run.log`, a scheduler): there a bar is hundreds of
    carriage-return redraws burying the epoch lines, which reach the log either way."""

    def __init__(self, monitor: str, refresh_rate: int = 1, leave: bool = False, terminal_only: bool = True) -> None:
        if terminal_only and not _is_terminal(sys.stdout):  # Lightning's bars write to sys.stdout
            refresh_rate = 0
        super().__init__(refresh_rate=refresh_rate, leave=leave)
        self.monitor = monitor
        self._loss_sum, self._batches = 0.0, 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._loss_sum, self._batches = 0.0, 0
        super().on_train_epoch_start(trainer, pl_module)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = _loss_of(outputs) if self.is_enabled else None
        if loss is not None:
            self._loss_sum += loss
            self._batches += 1
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, int | str | float | dict]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if self._batches:
            items["loss"] = f"{self._loss_sum / self._batches:.3f}"
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            items[self.monitor] = f"{float(value):.4f}"
        return items
