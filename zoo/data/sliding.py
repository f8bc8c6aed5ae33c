"""Sliding windows for scoring a language model fairly, whatever its encoder.

BPTT windows carry a recurrent core's state across windows, so it predicts most characters
with everything before them in mind, while a transformer sees each window alone and
predicts a window's first characters from almost nothing. To compare them, every character
is scored once, in a window of `window` characters read from scratch (no carried state),
with at least `window - stride` characters before it (stride window/2 by default): windows
start every `stride` characters and each scores only the targets the previous one did not.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


def window_plan(tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """(start, first scored position) of each window over a stream of `tokens` ids; the
    targets of all windows together are positions 1 .. tokens-1, each exactly once."""
    if not 1 <= stride <= window:
        raise ValueError(f"stride={stride} must be in [1, window={window}]")
    last = max(0, tokens - 1 - window)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    plan, next_target = [], 1
    for start in starts:
        first = max(next_target, start + 1)
        plan.append((start, first - (start + 1)))
        next_target = start + min(window, tokens - 1 - start) + 1
    return plan


def sliding_batches(ids: Tensor, window: int, stride: int, batch_size: int,
                    limit: int | None = None) -> Iterator[dict[str, Tensor]]:
    """Batches of `batch_size` windows: `input_ids`, `targets` and `scored` (bool, the
    targets this window counts); at most `limit` batches."""
    plan = window_plan(len(ids), window, stride)
    width = min(window, len(ids) - 1)
    for number, begin in enumerate(range(0, len(plan), batch_size)):
        if limit is not None and number >= limit:
            return
        rows = plan[begin: begin + batch_size]
        inputs = torch.stack([ids[s: s + width] for s, _ in rows])
        targets = torch.stack([ids[s + 1: s + 1 + width] for s, _ in rows])
        scored = torch.arange(width)[None, :] >= torch.tensor([first for _, first in rows])[:, None]
        yield {"input_ids": inputs, "targets": targets, "scored": scored}


def batch_count(tokens: int, window: int, stride: int, batch_size: int) -> int:
    return -(-len(window_plan(tokens, window, stride)) // batch_size)
