"""Text coloured piece by piece, as Karpathy et al. (2015) show a cell: one HTML rendering (a
span per character or token, hover for its value) and one PNG (characters laid out in a grid
of coloured cells), shared by the cell pages, a language model's attributions and a
classifier's token heatmap. Red is positive, blue negative, each view on its own symmetric
scale."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.figures import figure

RED, BLUE = "214,39,40", "31,119,180"
GRID_COLUMNS = 80
GRID_LINES = 24


def shaded(piece: str, value: float, scale: float) -> str:
    """One `<span>` of text on the colour of its value (hover: the value)."""
    return (f'<span title="{value:+.4f}" style="background: rgba({RED if value > 0 else BLUE},'
            f'{abs(value) / scale:.2f})">{html.escape(piece)}</span>')


def scale_of(values: Sequence[float]) -> float:
    """The largest |value|, so each view spans its own range (1 when all are 0)."""
    return float(np.abs(np.asarray(values, dtype=float)).max(initial=0.0)) or 1.0


def character_spans(text: str, values: Sequence[float]) -> str:
    """`<span>`s for a `<pre>`: a newline stays a line break, every character keeps its width."""
    scale = scale_of(values)
    return "".join(shaded(char, value, scale) for char, value in zip(text, values, strict=False))


def layout(text: str, columns: int = GRID_COLUMNS, lines: int = GRID_LINES) -> list[tuple[int, int, int]]:
    """(index in text, row, column) of each character drawn: lines break at newlines and wrap at
    `columns`; at most `lines` rows."""
    placed, row, col = [], 0, 0
    for k, char in enumerate(text):
        if row >= lines:
            break
        if char == "\n":
            placed.append((k, row, col))
            row, col = row + 1, 0
            continue
        if col >= columns:
            row, col = row + 1, 0
            if row >= lines:
                break
        placed.append((k, row, col))
        col += 1
    return placed


def character_grid(path: Path, text: str, values: Sequence[float], title: str) -> Path:
    """The PNG: each character on a cell coloured by its value (a newline drawn as a dim '⏎')."""
    from matplotlib.colors import TwoSlopeNorm

    placed = layout(text)
    rows = max((r for _, r, _ in placed), default=0) + 1
    grid = np.full((rows, GRID_COLUMNS), np.nan)
    values = np.asarray(values, dtype=float)
    for k, r, c in placed:
        grid[r, c] = values[k] if k < len(values) else np.nan
    scale = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    with figure(path, (GRID_COLUMNS * 0.13, rows * 0.22 + 0.6)) as (fig, ax):
        ax.imshow(grid, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -(scale or 1.0), scale or 1.0), aspect="auto",
                  interpolation="nearest")
        for k, r, c in placed:
            char = text[k]
            ax.text(c, r, "⏎" if char == "\n" else char, ha="center", va="center", fontsize=6.5,
                    family="monospace", color="0.55" if char == "\n" else "black")
        ax.set_axis_off()
        ax.set_title(title, fontsize=8)
    return path
