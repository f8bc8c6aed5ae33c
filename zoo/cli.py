"""Entry-point glue: user mistakes print one clear message, not a library traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from zoo.errors import ZooError


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run `func`; a ZooError becomes `error: <message>` on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZooError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def key_values(argv: list[str], allowed: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, str]:
    """Parse `key=value` arguments (values kept as plain strings) against `allowed`
    ({key: help}); unknown or missing keys are a ZooError listing the options."""
    values: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in allowed:
            options = "; ".join(f"{k}=<{v}>" for k, v in allowed.items())
            raise ZooError(f"unexpected argument {arg!r}; options: {options}")
        values[key] = value
    missing = [k for k in required if k not in values]
    if missing:
        raise ZooError(f"missing {', '.join(f'{k}=<{allowed[k]}>' for k in missing)}")
    return values
