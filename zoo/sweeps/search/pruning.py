"""Optuna's Lightning pruning callback, stepped by validation run instead of by epoch."""

from __future__ import annotations

import lightning as L
import optuna
from optuna_integration import PyTorchLightningPruningCallback


class ValidationPruning(PyTorchLightningPruningCallback):
    """Reports every validation run as its own step (0, 1, 2, ...), so `n_warmup_steps` counts
    validation runs; with one validation an epoch that is the epoch, as before.

    Why: the integration reports at `step=current_epoch`, so a recipe that validates several
    times an epoch (the language model, `val_check_interval: 0.25`) reported three of every
    four values to a step already taken: Optuna ignored them with a warning each, and the
    pruner judged a trial on the first quarter of each epoch only."""

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        super().__init__(trial, monitor)
        self.validations = 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.is_ddp_backend or trainer.callback_metrics.get(self.monitor) is None:
            super().on_validation_end(trainer, pl_module)  # skips, warns, or the multi-process path
            return
        step, self.validations = self.validations, self.validations + 1
        self._trial.report(trainer.callback_metrics[self.monitor].item(), step=step)
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"pruned at validation {step + 1} (epoch {pl_module.current_epoch})")
