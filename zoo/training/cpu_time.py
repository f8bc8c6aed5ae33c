"""What training cost in CPU time: the process's CPU seconds (all its threads) from the start
of fitting to the end, and to the validation that gave the best monitored value (the epoch
whose checkpoint is kept). CPU time, not wall time, so the figure holds on a busy machine;
the model comparison reports it as the cost of training each architecture."""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import Callback

from zoo.direction import Direction

TOTAL, TO_BEST = "perf/train_cpu_s", "perf/train_cpu_s_to_best"


class CpuTime(Callback):
    def __init__(self, monitor: str, mode: str = "min") -> None:
        self.monitor, self.direction = monitor, Direction.of(mode)
        self.start = 0.0
        self.best: float | None = None
        self.at_best: float | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start, self.best, self.at_best = time.process_time(), None, None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        if self.best is None or self.direction.better(float(value), self.best):
            self.best, self.at_best = float(value), time.process_time() - self.start

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = time.process_time() - self.start
        metrics = {TOTAL: total, **({TO_BEST: self.at_best} if self.at_best is not None else {})}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
