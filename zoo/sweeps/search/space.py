"""Turn a search space into one trial's Hydra overrides, honouring conditions."""

from __future__ import annotations

import operator
from typing import Any

import optuna

from zoo.paths import CONF_DIR
from zoo.sweeps.search.spec import CONDITION, ParamSpec

OPERATORS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
             ">": operator.gt, "<": operator.lt}


def is_group(key: str) -> bool:
    """True when the key is a config group (e.g. `model`), chosen as `model=bilstm`."""
    return (CONF_DIR / key.replace(".", "/")).is_dir()


def _holds(condition: str, chosen: dict[str, Any]) -> bool:
    """True when the condition's parameter was sampled and satisfies it."""
    key, op, raw = CONDITION.match(condition).groups()  # type: ignore[union-attr]
    if key not in chosen:
        return False
    value = chosen[key]
    try:
        expected: Any = type(value)(raw) if not isinstance(value, bool) else raw.lower() == "true"
    except (TypeError, ValueError):
        expected = raw
    return bool(OPERATORS[op](value, expected))


def suggest(trial: optuna.Trial, space: dict[str, ParamSpec]) -> dict[str, Any]:
    """Sample every active parameter; a parameter whose condition fails keeps its default."""
    chosen: dict[str, Any] = {}
    for key, param in space.items():
        if param.condition and not _holds(param.condition, chosen):
            continue
        if param.type == "categorical":
            chosen[key] = trial.suggest_categorical(key, list(param.choices))
        elif param.type == "int":
            chosen[key] = trial.suggest_int(key, int(param.low), int(param.high), step=int(param.step or 1),
                                            log=param.log)
        else:
            chosen[key] = trial.suggest_float(key, float(param.low), float(param.high), step=param.step,
                                              log=param.log)
    return chosen


def to_overrides(chosen: dict[str, Any]) -> list[str]:
    """Hydra override strings: config groups first (`model=bilstm`), then values."""
    def render(value: Any) -> str:
        return repr(value) if isinstance(value, float) else str(value)

    groups = [f"{k}={v}" for k, v in chosen.items() if is_group(k)]
    values = [f"{k}={render(v)}" for k, v in chosen.items() if not is_group(k)]
    return groups + values
