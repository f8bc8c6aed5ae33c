"""Turn per-step encoder outputs into one vector per sequence, ignoring padding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError

POOLINGS = ("last", "mean", "max", "attention")  # attention has weights: `AttentionPooling`


def check_pooling(method: str) -> str:
    """The one check of a pooling name (config checks and networks both call it)."""
    if method not in POOLINGS:
        raise ConfigError(f"task.module.pooling={method!r} is not a known task pooling; choose one of "
                          f"{', '.join(POOLINGS)}")
    return method


def real_steps(outputs: Tensor, lengths: Tensor) -> Tensor:
    """(batch, time, 1) mask, True at each row's real (non-padding) steps."""
    steps = torch.arange(outputs.shape[1], device=outputs.device)
    return (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)


def pool(outputs: Tensor, lengths: Tensor, last_hidden: Tensor | None, method: str) -> Tensor:
    """`last`: final hidden state; `mean`/`max`: over each row's real steps only."""
    if method == "last":
        assert last_hidden is not None, "last pooling needs the final hidden state"
        return last_hidden
    mask = real_steps(outputs, lengths)
    if check_pooling(method) == "max":
        return outputs.masked_fill(~mask, float("-inf")).max(dim=1).values
    total = (outputs * mask).sum(dim=1)
    return total / lengths.to(outputs.device).clamp(min=1).unsqueeze(-1).to(outputs.dtype)


class AttentionPooling(nn.Module):
    """Learned attention over steps (Lin et al. 2017, one hop): a_t = softmax_t(w2 · tanh(W1 h_t))
    over each row's real steps only, and the pooled vector is sum_t a_t h_t. It has weights,
    so the classifier owns it and a bundle rebuilds it from the `pooling` string."""

    def __init__(self, width: int, attention_size: int | None = None) -> None:
        super().__init__()
        size = attention_size or width
        self.w1 = nn.Linear(width, size, bias=False)
        self.w2 = nn.Linear(size, 1, bias=False)

    def forward(self, outputs: Tensor, lengths: Tensor) -> Tensor:
        scores = self.w2(torch.tanh(self.w1(outputs)))  # (batch, time, 1)
        weights = torch.softmax(scores.masked_fill(~real_steps(outputs, lengths), float("-inf")), dim=1)
        return (weights * outputs).sum(dim=1)
