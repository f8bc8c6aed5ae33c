"""A seed ensemble of classifiers: the mean of the members' class probabilities."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ProbabilityAverage(nn.Module):
    """Members of one architecture trained with different seeds; the forward pass returns
    log(mean_i softmax(member_i)), so a softmax over it gives the averaged probabilities
    and argmax picks the ensemble's class, exactly as for a single classifier."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = nn.ModuleList(members)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        probabilities = torch.stack([torch.softmax(m(tokens, lengths), dim=-1) for m in self.members])
        return probabilities.mean(dim=0).clamp_min(1e-12).log()
