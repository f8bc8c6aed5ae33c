"""Turn per-step encoder outputs into one vector per sequence, ignoring padding."""

from __future__ import annotations

import torch
from torch import Tensor

POOLINGS = ("last", "mean", "max")


def pool(outputs: Tensor, lengths: Tensor, last_hidden: Tensor | None, method: str) -> Tensor:
    """`last`: final hidden state; `mean`/`max`: over each row's real steps only."""
    if method == "last":
        assert last_hidden is not None, "last pooling needs the final hidden state"
        return last_hidden
    steps = torch.arange(outputs.shape[1], device=outputs.device)
    mask = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)
    if method == "mean":
        total = (outputs * mask).sum(dim=1)
        return total / lengths.to(outputs.device).clamp(min=1).unsqueeze(-1).to(outputs.dtype)
    if method == "max":
        return outputs.masked_fill(~mask, float("-inf")).max(dim=1).values
    raise ValueError(f"unknown pooling {method!r}; choose one of {', '.join(POOLINGS)}")
