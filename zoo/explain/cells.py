"""Interpretable cells, found and tested rather than eyeballed. For each concept: the unit
(of c or h, any layer) that tracks it best on one split, its score on another, the same
search over the same architecture untrained as the control, and a causal check: the unit
held at its mean while the model reads the held-out split, and the change in loss where the
concept holds against where it does not.

Scores: ROC AUC for a binary concept (max(AUC, 1 - AUC): a unit may track it either way),
|Spearman| for a graded one, computed for every unit at once from ranks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata
from torch import Tensor, nn
from torch.nn import functional

from zoo.explain.concepts import Concept
from zoo.explain.gates import Clamp, Trace, top_outputs, trace_gates

PARTS = ("c", "h")
CLAMPS = ("mean", "zero")  # what the found unit is held at for the causal check
HOLDS_QUANTILE = 0.8  # a graded concept "holds" at its top fifth (line ends, deep brackets)


@dataclass(frozen=True)
class Unit:
    layer: int
    direction: str
    part: str
    index: int

    @property
    def label(self) -> str:
        return f"l{self.layer}{'' if self.direction == 'forward' else '_reverse'} {self.part}[{self.index}]"


@dataclass(frozen=True)
class Activations:
    """Every unit's value at every scored step: (steps, units), units named in `units`."""

    units: list[Unit]
    values: np.ndarray
    ranks: np.ndarray  # per column, computed once: every concept is scored against them

    @classmethod
    def of(cls, trace: Trace, warmup: int) -> Activations:
        units, columns = [], []
        for layer in trace.layers:
            for part in PARTS:
                if part not in layer.parts:
                    continue
                value = layer.parts[part][:, warmup:]  # (rows, steps, width)
                columns.append(value.reshape(-1, value.shape[-1]).numpy())
                units += [Unit(layer.layer, layer.direction, part, i) for i in range(value.shape[-1])]
        values = np.concatenate(columns, axis=1)
        # float32 ranks are exact up to 2**24 steps and halve the memory of four (steps, units) tables
        return cls(units, values, rankdata(values, axis=0).astype(np.float32))


def unit_scores(ranks: np.ndarray, labels: np.ndarray, graded: bool) -> np.ndarray:
    """|Spearman| (graded) or max(AUC, 1 - AUC) (binary) of every column with `labels`, from the
    columns' ranks."""
    if graded:
        ranked = rankdata(labels)
        x, y = ranks - ranks.mean(0), ranked - ranked.mean()
        denominator = np.sqrt((x * x).sum(0) * (y * y).sum())
        return np.abs(np.divide(x.T @ y, denominator, out=np.zeros(ranks.shape[1]), where=denominator > 0))
    positive = labels > 0.5
    n1, n0 = int(positive.sum()), int((~positive).sum())
    auc = (ranks[positive].sum(0) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.maximum(auc, 1 - auc)


def varies(labels: np.ndarray, graded: bool) -> bool:
    return bool(np.unique(labels).size > 1) if graded else bool(0 < (labels > 0.5).sum() < labels.size)


@dataclass(frozen=True)
class CellFinding:
    concept: Concept
    unit: Unit
    selection_score: float  # on the split the unit was chosen on
    held_out_score: float  # the same unit on the held-out split
    control_unit: Unit
    control_score: float  # the untrained model's best unit (chosen the same way), held out
    loss_change_holds: float  # nats/char, the unit held (at its mean, or zero), where the concept holds
    loss_change_elsewhere: float

    @property
    def margin(self) -> float:
        return self.held_out_score - self.control_score


@dataclass(frozen=True)
class Reading:
    """What a language model computed over some rows of text: its trace and next-token losses."""

    tokens: Tensor
    trace: Trace
    losses: Tensor  # (rows, length - 1): the loss of predicting token t + 1 after reading token t


def read(network: nn.Module, tokens: Tensor, clamp: Clamp | None = None) -> Reading:
    """Run a language model's encoder step by step (so a unit can be held), then its head."""
    encoder = network.encoder
    trace = trace_gates(encoder.rnn, encoder.embedding(tokens), None, clamp)
    logits = network.head(network.projection(top_outputs(trace)))
    losses = functional.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten(), reduction="none")
    return Reading(tokens, trace, losses.view(len(tokens), -1))


def best_unit(activations: Activations, labels: np.ndarray, graded: bool) -> tuple[int, float]:
    scores = unit_scores(activations.ranks, labels, graded)
    best = int(np.argmax(scores))
    return best, float(scores[best])


def find_cell(concept: Concept, labels: tuple[np.ndarray, np.ndarray], trained: tuple[Activations, Activations],
              control: tuple[Activations, Activations], network: nn.Module, held_out: Reading,
              warmup: int, clamp: str = "mean") -> CellFinding:
    """Choose on the first of each pair (selection), score on the second (held out); hold the
    unit at its selection-split mean (`clamp="mean"`) or at zero while the model reads."""
    (select_labels, test_labels), graded = labels, concept.graded
    index, selection_score = best_unit(trained[0], select_labels, graded)
    held_out_score = float(unit_scores(trained[1].ranks[:, [index]], test_labels, graded)[0])
    control_index, _ = best_unit(control[0], select_labels, graded)
    control_score = float(unit_scores(control[1].ranks[:, [control_index]], test_labels, graded)[0])
    unit = trained[0].units[index]
    value = float(trained[0].values[:, index].mean()) if clamp == "mean" else 0.0
    with torch.inference_mode():
        clamped = read(network, held_out.tokens, Clamp(unit.layer, unit.direction, unit.part, unit.index, value))
    # the loss after reading token t, for the steps scored (token t past the warm-up, t + 1 in the row)
    change = (clamped.losses - held_out.losses)[:, warmup:].reshape(-1).numpy()
    holding = test_labels.reshape(len(held_out.tokens), -1)[:, : change.size // len(held_out.tokens)].reshape(-1)
    holds = where_it_holds(holding, test_labels, graded)
    return CellFinding(concept, unit, selection_score, held_out_score, control[0].units[control_index],
                       control_score, _mean(change[holds]), _mean(change[~holds]))


def where_it_holds(values: np.ndarray, labels: np.ndarray, graded: bool) -> np.ndarray:
    """A binary concept holds where it is 1; a graded one at its top fifth (above the quantile
    where ties at the quantile would take in everything)."""
    if not graded:
        return values > 0.5
    threshold = np.quantile(labels, HOLDS_QUANTILE)
    return values > threshold if bool((labels >= threshold).all()) else values >= threshold


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
