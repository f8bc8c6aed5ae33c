"""Token attributions for a classifier: how much each token moved the predicted class.

- Integrated gradients on the embedding layer (Captum's `LayerIntegratedGradients`), from an
  all-padding baseline of the same length, with its convergence delta (how far the summed
  attributions are from the logit difference they must add up to).
- Occlusion: the drop in the predicted class's probability when one token is replaced by
  padding (Captum's `FeatureAblation`, one token per feature).
- Random: a seeded random score per token, the floor the faithfulness test compares with.

cuDNN's RNN backward runs only in training mode, so gradients are taken with cuDNN off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import FeatureAblation, LayerIntegratedGradients
from torch import Tensor, nn

METHODS = ("integrated_gradients", "occlusion", "random")
# rows (texts x steps) per forward pass of integrated gradients: without it a batch of 256 texts
# at 50 steps ran 12,800 rows at once (4.3 GB peak on TREC)
INTERNAL_BATCH = 512


@dataclass(frozen=True)
class Attributions:
    """Scores (batch, time) of each method for the same padded batch, zero past each length."""

    tokens: Tensor
    lengths: Tensor
    predicted: Tensor  # (batch,) the class explained: the model's prediction
    probability: Tensor  # (batch,) its probability
    scores: dict[str, Tensor]
    delta: Tensor  # (batch,) integrated gradients' convergence delta


def _probabilities(network: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda tokens, lengths: torch.softmax(network(tokens, lengths), dim=-1)


def attribute(network: nn.Module, tokens: Tensor, lengths: Tensor, pad_id: int, n_steps: int = 50,
              seed: int = 0) -> Attributions:
    """Every method's scores for the model's own prediction on each row of `tokens`."""
    mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    with torch.no_grad():
        probabilities = _probabilities(network)(tokens, lengths)
    predicted = probabilities.argmax(-1)
    baseline = torch.full_like(tokens, pad_id)
    with torch.backends.cudnn.flags(enabled=False):
        ig = LayerIntegratedGradients(network, network.encoder.embedding)
        attributions, delta = ig.attribute(tokens, baselines=baseline, target=predicted, n_steps=n_steps,
                                           additional_forward_args=(lengths,), return_convergence_delta=True,
                                           internal_batch_size=INTERNAL_BATCH)
    with torch.no_grad():
        occlusion = FeatureAblation(_probabilities(network)).attribute(
            tokens, baselines=pad_id, target=predicted, additional_forward_args=(lengths,),
            perturbations_per_eval=8)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(tokens.shape, generator=generator)
    scores = {"integrated_gradients": attributions.sum(-1).detach(), "occlusion": occlusion.float(), "random": noise}
    return Attributions(tokens, lengths, predicted, probabilities.gather(1, predicted[:, None])[:, 0],
                        {name: torch.where(mask, value, torch.zeros_like(value)) for name, value in scores.items()},
                        delta.detach())


def ranking(scores: Tensor, length: int) -> np.ndarray:
    """Token positions from the most to the least important (ties in position order)."""
    return np.argsort(-scores[:length].numpy(), kind="stable")
