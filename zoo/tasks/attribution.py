"""Token attributions for a classifier: how much each token moved the predicted class.

- Integrated gradients on the embedding layer (Captum's `LayerIntegratedGradients`), from an
  all-padding baseline of the same length, with its convergence delta (how far the summed
  attributions are from the logit difference they must add up to).
- Occlusion: the drop in the predicted class's probability when one token is replaced by
  padding (Captum's `FeatureAblation`, one token per feature).
- Random: a seeded random score per token, the floor the faithfulness test compares with.

cuDNN's RNN backward runs only in training mode, so gradients are taken with cuDNN off."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from zoo.errors import InputError
from zoo.tasks.inference import Inference, pad_ids, token_ids

METHODS = ("integrated_gradients", "occlusion", "random")
# rows (texts x steps) per forward pass of integrated gradients: without it a batch of 256 texts
# at 50 steps ran 12,800 rows at once (4.3 GB peak on TREC)
INTERNAL_BATCH = 512
MAX_STEPS = 1000  # integrated gradients' steps for one text, however far its delta is from the tolerance
IG_TOLERANCE = 1e-3  # |convergence delta| zoo-explain works down to by doubling a text's steps


@dataclass(frozen=True)
class Attributions:
    """Scores (batch, time) of each method for the same padded batch, zero past each length."""

    tokens: Tensor
    lengths: Tensor
    predicted: Tensor  # (batch,) the class explained: the model's prediction
    probability: Tensor  # (batch,) its probability
    scores: dict[str, Tensor]
    delta: Tensor  # (batch,) integrated gradients' convergence delta
    steps: Tensor  # (batch,) the steps integrated gradients took for each row


def _probabilities(network: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda tokens, lengths: torch.softmax(network(tokens, lengths), dim=-1)


def integrated_gradients(network: nn.Module, tokens: Tensor, lengths: Tensor, pad_id: int, target: Tensor,
                         n_steps: int, tolerance: float | None = None,
                         max_steps: int = MAX_STEPS) -> tuple[Tensor, Tensor, Tensor]:
    """Per-token attributions (batch, time), the convergence delta and the steps taken per row.
    With a `tolerance`, a row whose |delta| is above it is integrated again with twice the steps,
    until it is below or `max_steps` would be passed: the sum of a row's attributions then equals
    its logit difference to the tolerance, and only the hard rows pay for it."""
    from captum.attr import LayerIntegratedGradients  # on first use: a served model that is never asked to
    # explain does not pay its import

    scores, delta = torch.zeros(tokens.shape), torch.zeros(len(tokens))
    steps = torch.zeros(len(tokens), dtype=torch.long)
    rows, current = torch.arange(len(tokens)), n_steps
    ig = LayerIntegratedGradients(network, network.encoder.embedding)
    while len(rows):
        with torch.backends.cudnn.flags(enabled=False):
            part, part_delta = ig.attribute(tokens[rows], baselines=torch.full_like(tokens[rows], pad_id),
                                            target=target[rows], n_steps=current,
                                            additional_forward_args=(lengths[rows],), return_convergence_delta=True,
                                            internal_batch_size=INTERNAL_BATCH)
        scores[rows], delta[rows], steps[rows] = part.sum(-1).detach().float(), part_delta.detach().float(), current
        if tolerance is None or current * 2 > max_steps:
            break
        rows, current = rows[part_delta.detach().abs() > tolerance], current * 2
    return scores, delta, steps


def attribute(network: nn.Module, tokens: Tensor, lengths: Tensor, pad_id: int, n_steps: int = 50,
              seed: int = 0, tolerance: float | None = None) -> Attributions:
    """Every method's scores for the model's own prediction on each row of `tokens`."""
    from captum.attr import FeatureAblation

    mask = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    with torch.no_grad():
        probabilities = _probabilities(network)(tokens, lengths)
    predicted = probabilities.argmax(-1)
    attributions, delta, steps = integrated_gradients(network, tokens, lengths, pad_id, predicted, n_steps, tolerance)
    with torch.no_grad():
        occlusion = FeatureAblation(_probabilities(network)).attribute(
            tokens, baselines=pad_id, target=predicted, additional_forward_args=(lengths,),
            perturbations_per_eval=8)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(tokens.shape, generator=generator)
    scores = {"integrated_gradients": attributions, "occlusion": occlusion.float(), "random": noise}
    return Attributions(tokens, lengths, predicted, probabilities.gather(1, predicted[:, None])[:, 0],
                        {name: torch.where(mask, value, torch.zeros_like(value)) for name, value in scores.items()},
                        delta, steps)


def ranking(scores: Tensor, length: int) -> np.ndarray:
    """Token positions from the most to the least important (ties in position order)."""
    return np.argsort(-scores[:length].numpy(), kind="stable")


EXPLAIN_PARAMS: dict[str, Any] = {"explain": False, "n_steps": 32}  # the classifier pyfunc's params
EXPLAIN_MAX_TEXTS = 64  # per call: each text costs n_steps forward and backward passes
EXPLAIN_MAX_STEPS = 200


def explain_texts(model: Inference, texts: list[str], params: Mapping[str, Any]) -> list[list[list[Any]]]:
    """Each text's (token, integrated-gradients score) pairs towards its predicted class: what
    the registered classifier returns as `attributions` when called with explain=true."""
    n_steps = params.get("n_steps", EXPLAIN_PARAMS["n_steps"])
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 2 <= n_steps <= EXPLAIN_MAX_STEPS:
        raise InputError(f"n_steps={n_steps!r} must be a whole number in [2, {EXPLAIN_MAX_STEPS}]")
    if len(texts) > EXPLAIN_MAX_TEXTS:
        raise InputError(f"explain=true attributes at most {EXPLAIN_MAX_TEXTS} texts per call (each costs n_steps "
                         f"passes); got {len(texts)}: send them in smaller calls")
    if not hasattr(model.network, "encoder"):
        raise InputError("explain=true needs one model; this is a seed ensemble: explain one of its members")
    pad_id = int(model.hparams.get("pad_id", 0))
    out: list[list[list[Any]]] = []
    for ids in token_ids(model.tokenizer, texts, model.max_length):
        explained = attribute(model.network, *pad_ids([ids], pad_id), pad_id, n_steps)
        scores = explained.scores["integrated_gradients"][0, : len(ids)].tolist()
        out.append([[model.tokenizer.id_to_token(i) or "?", round(s, 6)] for i, s in zip(ids, scores, strict=True)])
    return out
