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
