"""Faithfulness of token attributions as ERASER (DeYoung et al. 2020) defines it, averaged
over the bins {1, 5, 10, 20, 50}% of tokens (at least one token):

- comprehensiveness: p(y | text) - p(y | text without its top-k tokens): high when the
  tokens an explanation ranks first are the ones the prediction needs;
- sufficiency: p(y | text) - p(y | only its top-k tokens): low when they are enough.

y is the model's prediction on the whole text; tokens are deleted, not masked, as in ERASER.
A method is faithful where its comprehensiveness beats a random ordering's, with a paired
bootstrap 95% interval of the per-text margin that excludes 0."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from zoo.stats import Bootstrap, paired_bootstrap
from zoo.tasks.attribution import Attributions, ranking
from zoo.tasks.inference import pad_ids

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)


@dataclass(frozen=True)
class Faithfulness:
    method: str
    comprehensiveness: np.ndarray  # per text, AOPC over BINS
    sufficiency: np.ndarray


def _top(length: int, share: float) -> int:
    return max(1, round(share * length))


def aopc(network: nn.Module, explained: Attributions, method: str, pad_id: int) -> Faithfulness:
    """Comprehensiveness and sufficiency AOPC of `method` for every text of the batch."""
    removed, kept, owners = [], [], []
    for row in range(len(explained.tokens)):
        length = int(explained.lengths[row])
        ids, order = explained.tokens[row, :length].tolist(), ranking(explained.scores[method][row], length)
        for share in BINS:
            top = set(order[: _top(length, share)].tolist())
            rest = [t for i, t in enumerate(ids) if i not in top]
            removed.append(rest or [pad_id])  # a text with every token removed reads as one padding token
            kept.append([t for i, t in enumerate(ids) if i in top])
            owners.append(row)
    target = explained.predicted[owners]
    with torch.no_grad():
        p_removed, p_kept = (torch.softmax(network(*pad_ids(texts, pad_id)), -1).gather(1, target[:, None])[:, 0]
                             for texts in (removed, kept))
    full = explained.probability[owners]
    shape = (len(explained.tokens), len(BINS))
    return Faithfulness(method, (full - p_removed).view(shape).mean(1).numpy(),
                        (full - p_kept).view(shape).mean(1).numpy())


def margin_over_random(results: dict[str, Faithfulness], method: str) -> Bootstrap:
    """The per-text comprehensiveness margin of `method` over the random ordering."""
    return paired_bootstrap(results[method].comprehensiveness, results["random"].comprehensiveness)
