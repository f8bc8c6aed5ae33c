"""SIGTERM and SIGINT end a tool with a message and status 128+signal (143, 130), never a silent 0.

The first signal raises `Interrupted` (a KeyboardInterrupt, so Optuna fails the trial at once and
Lightning stops training); the signal is remembered, because Lightning turns the interrupt into
`sys.exit(1)` on its way out. Later signals are only recorded, so the runs can still be closed."""

from __future__ import annotations

import signal
import sys
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if len(_received) == 1:
        raise Interrupted(signum)


def install() -> None:
    """Handle SIGTERM and SIGINT in this process (main thread only, as Python requires)."""
    for sig in SIGNALS:
        try:
            signal.signal(sig, _handler)
        except ValueError:  # not the main thread: leave the defaults
            return


def received() -> int | None:
    """The first signal this process got, or None."""
    return _received[0] if _received else None


def as_interrupt(err: BaseException) -> BaseException:
    """What to re-raise for `err`: an `Interrupted` when a signal caused it (Lightning's
    `sys.exit(1)`, an MLflow error mid-shutdown), else `err` itself."""
    signum = received()
    return Interrupted(signum) if signum is not None and not isinstance(err, Interrupted) else err


def exit_code(signum: int) -> int:
    return 128 + signum


def exit_interrupted(what: str = "") -> None:
    """If a signal arrived: say so on stderr and exit with 128+signal; otherwise return."""
    signum = received()
    if signum is None:
        return
    detail = f"; {what}" if what else ""
    print(f"error: stopped by {signal.Signals(signum).name}{detail}", file=sys.stderr, flush=True)
    sys.exit(exit_code(signum))
