"""Measuring training throughput fairly on a shared CPU: wall clock and process CPU time
read together (`Stopwatch`), interleaved repeats in rotating order, ratios paired repeat
by repeat. Used by `zoo.training.pipeline_speed` (zoo step vs plain loop, bucketing) and by the core table
(`zoo.training.core_speed`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import lightning as L
from torch import Tensor
from torch.nn import functional as F

Batch = dict[str, Tensor]  # a collated batch: input_ids, lengths, labels


@dataclass(frozen=True)
class Timing:
    """One measurement: wall-clock and process CPU seconds (all threads) over the same span."""

    wall_s: float
    cpu_s: float


class Stopwatch:
    """Wall clock (perf_counter) and process CPU time (process_time) started and read together."""

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        cpu, wall = time.process_time(), time.perf_counter()
        return Timing(wall_s=wall - self._wall, cpu_s=cpu - self._cpu)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of a non-empty sequence."""
    if not values:
        raise ValueError("no values to summarize")
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def relative_spread(values: Sequence[float]) -> float:
    """(max - min) / median: 0.05 means the values span 5% of their median."""
    stats = summarize(values)
    return (stats["max"] - stats["min"]) / stats["median"]


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Repeat-by-repeat ratios of two figures measured in the same repeats."""
    if len(numerator) != len(denominator):
        raise ValueError(f"{len(numerator)} numerators but {len(denominator)} denominators")
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def rotated(names: Sequence[str], repeat: int) -> list[str]:
    """Measuring order for one repeat: shifted by one per repeat, so no figure always runs
    first or always right after the Lightning fit."""
    shift = repeat % len(names)
    return [*names[shift:], *names[:shift]]


def cpu_s_per_1k_tokens(cpu_s: float, tokens: int) -> float:
    return 1000.0 * cpu_s / tokens


def plain_timing(module: L.LightningModule, batches: list[Batch], packed: bool = True) -> Timing:
    """The loop a PyTorch user writes by hand, over the same network and batches."""
    network = module.network
    network.train()
    optimizer = module.configure_optimizers()
    watch = Stopwatch()
    watch.start()
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        if packed:
            logits = network(batch["input_ids"], batch["lengths"])
        else:
            outputs, state = network.encoder(batch["input_ids"])
            logits = network.head(network.encoder.last_hidden(state))
        loss = F.cross_entropy(logits, batch["labels"])
        loss.backward()
        optimizer.step()
    return watch.stop()
