"""One way to draw a study's figure: matplotlib without a screen, saved where the report
wants it, and closed even when drawing fails (a long study must not collect open figures)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@contextmanager
def figure(path: Path, size: tuple[float, float]) -> Iterator[tuple[Any, Any]]:
    """`with figure(path, (7, 4)) as (fig, ax): ...` draws on one axes and saves to `path`."""
    fig, ax = plt.subplots(figsize=size)
    try:
        yield fig, ax
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
