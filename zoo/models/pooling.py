"""Turn per-step encoder outputs into one vector per sequence, ignoring padding."""

from __future__ import annotations

import torch
from torch import Tensor

from zoo.errors import ConfigError

POOLINGS = ("last", "mean", "max")


def check_pooling(method: str) -> str:
    """The one check of a pooling name (config checks and networks both call it)."""
    if method not in POOLINGS:
        raise ConfigError(f"task.module.pooling={method!r} is not a known task pooling; choose one of "
                          f"{', '.join(POOLINGS)}")
    return method


def pool(outputs: Tensor, lengths: Tensor, last_hidden: Tensor | None, method: str) -> Tensor:
    """`last`: final hidden state; `mean`/`max`: over each row's real steps only."""
    if method == "last":
        assert last_hidden is not None, "last pooling needs the final hidden state"
        return last_hidden
    steps = torch.arange(outputs.shape[1], device=outputs.device)
    mask = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)
    if check_pooling(method) == "max":
        return outputs.masked_fill(~mask, float("-inf")).max(dim=1).values
    total = (outputs * mask).sum(dim=1)
    return total / lengths.to(outputs.device).clamp(min=1).unsqueeze(-1).to(outputs.dtype)
