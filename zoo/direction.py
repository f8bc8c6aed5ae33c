"""Which way a metric improves: one value from the task kind to Optuna, Lightning and the
promotion gate, instead of `max`/`maximize`/`True` converted by hand in each of them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from zoo.errors import ConfigError

_SPELLINGS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}


class Direction(Enum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @classmethod
    def of(cls, value: Any) -> Direction:
        """From any spelling the configs use: `max`/`min` (Lightning's mode), `maximize`/
        `minimize` (Optuna's), a Direction, or True for "higher is better"."""
        if isinstance(value, Direction):
            return value
        if isinstance(value, bool):
            return cls.MAXIMIZE if value else cls.MINIMIZE
        try:
            return cls(_SPELLINGS[str(value).lower()])
        except KeyError:
            raise ConfigError(f"direction {value!r} is not one of max, min, maximize, minimize") from None

    @property
    def optuna(self) -> str:
        """`maximize` | `minimize`, as Optuna's studies and sweep specs write it."""
        return self.value

    @property
    def mode(self) -> str:
        """`max` | `min`, as Lightning's checkpoint and early stopping (and task.monitor_mode) write it."""
        return "max" if self is Direction.MAXIMIZE else "min"

    @property
    def higher_is_better(self) -> bool:
        return self is Direction.MAXIMIZE

    def better(self, a: float, b: float) -> bool:
        """Whether `a` is strictly better than `b`."""
        return a > b if self.higher_is_better else a < b

    def improvement(self, a: float, b: float) -> float:
        """How much better `a` is than `b`, positive when better, in the metric's units."""
        return a - b if self.higher_is_better else b - a

    def best(self, values: Iterable[float]) -> float:
        return max(values) if self.higher_is_better else min(values)

    def sort_key(self, value: float) -> float:
        """Ascending sort key that puts the best value first."""
        return -value if self.higher_is_better else value
