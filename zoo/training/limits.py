"""The numbers a run needs to train at all (seed, learning rate, epoch and step budget),
checked before data loads: Hydra passes `seed=abc` or `lr=-0.01` through unchanged, and a
run with nothing to learn would otherwise be logged FINISHED with test metrics."""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig

from zoo.errors import ConfigError


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_seed(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ConfigError(f"seed={value!r} is invalid: it must be an integer in [0, 2**32), e.g. seed=0")


def check_learning_rate(value: Any, key: str = "task.module.optimizer.lr") -> None:
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key}={value!r} is invalid: a learning rate must be a finite number > 0 "
                          f"(e.g. {key}=0.001); with lr <= 0 the model cannot learn")


def check_budget(trainer: DictConfig) -> None:
    """max_epochs >= 1 (or -1 with max_steps >= 1), max_steps >= 1 or -1: at least one step."""
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    for key, value in (("max_epochs", epochs), ("max_steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < -1):
            raise ConfigError(f"trainer.{key}={value!r} is invalid: it must be an integer >= 1 (or -1: no limit)")
    if epochs == 0 or steps == 0:
        zero = "max_epochs" if epochs == 0 else "max_steps"
        raise ConfigError(f"trainer.{zero}=0 trains nothing: an untrained model would be tested and logged; "
                          f"set trainer.{zero} >= 1 (e.g. trainer.max_epochs=1)")
    if epochs == -1 and steps in (None, -1) and not trainer.get("max_time"):
        raise ConfigError("trainer.max_epochs=-1 and trainer.max_steps=-1 never stop; bound one of them "
                          "(e.g. trainer.max_epochs=10)")


def check_limits(cfg: DictConfig) -> None:
    check_seed(cfg.get("seed"))
    optimizer = cfg.task.module.get("optimizer")
    if optimizer is not None and "lr" in optimizer:
        check_learning_rate(optimizer.lr)
    check_budget(cfg.trainer)
