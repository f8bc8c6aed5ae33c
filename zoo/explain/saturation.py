"""Gate saturation as Karpathy, Johnson and Fei-Fei (2015) measure it: for each unit of each
sigmoid gate, the fraction of (real) steps at which it is left-saturated (below 0.1: closed)
and right-saturated (above 0.9: open). A forget gate unit right-saturated most of the time
is an integrator that remembers; one left-saturated most of the time resets at every step."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from zoo.explain.gates import SIGMOID_GATES, Trace

LEFT, RIGHT = 0.1, 0.9


@dataclass(frozen=True)
class GateSaturation:
    """One gate of one layer and direction: per-unit fractions (width,) over the steps seen."""

    layer: str  # "l0", "l1_reverse", ...
    gate: str
    left: Tensor
    right: Tensor
    steps: int

    def summary(self) -> dict[str, float]:
        """The layer's means, and how many units spend most steps at either end."""
        return {"left": float(self.left.mean()), "right": float(self.right.mean()),
                "units_mostly_closed": float((self.left > 0.5).float().mean()),
                "units_mostly_open": float((self.right > 0.5).float().mean())}


class SaturationCounter:
    """Accumulates saturation over batches, so a whole split is counted in bounded memory."""

    def __init__(self) -> None:
        self._left: dict[tuple[str, str], Tensor] = {}
        self._right: dict[tuple[str, str], Tensor] = {}
        self._steps = 0

    def add(self, trace: Trace) -> None:
        mask = trace.mask[..., None]
        self._steps += int(trace.mask.sum())
        for layer in trace.layers:
            for gate in SIGMOID_GATES:
                if gate not in layer.parts:
                    continue
                values, key = layer.parts[gate], (layer.label, gate)
                left = ((values < LEFT) & mask).sum(dim=(0, 1)).double()
                right = ((values > RIGHT) & mask).sum(dim=(0, 1)).double()
                self._left[key] = self._left.get(key, 0) + left
                self._right[key] = self._right.get(key, 0) + right

    def result(self) -> list[GateSaturation]:
        steps = max(self._steps, 1)
        return [GateSaturation(layer, gate, self._left[key] / steps, self._right[key] / steps, self._steps)
                for key in self._left for layer, gate in [key]]


def saturation(traces: list[Trace]) -> list[GateSaturation]:
    """Saturation of every sigmoid gate over the given traces."""
    counter = SaturationCounter()
    for trace in traces:
        counter.add(trace)
    return counter.result()


def gate_metrics(result: list[GateSaturation]) -> dict[str, float]:
    """MLflow metrics, e.g. `explain/saturation/l0/f/right` (the mean right-saturated fraction)."""
    return {f"explain/saturation/{s.layer}/{s.gate}/{key}": value
            for s in result for key, value in s.summary().items()}

