"""Inference latency of a trained model: a second objective for multi-objective sweeps."""

from __future__ import annotations

import statistics
import time

import lightning as L
import torch


@torch.no_grad()
def inference_ms(module: L.LightningModule, batch: dict[str, torch.Tensor], repeats: int = 5) -> float:
    """Median wall time (ms) of one forward pass over `batch` in eval mode, after a warm-up."""
    module.eval()
    inputs = {k: v.to(module.device) for k, v in batch.items()}

    def forward() -> None:
        if "lengths" in inputs:
            module(inputs["input_ids"], inputs["lengths"])
        else:
            module(inputs["input_ids"])

    forward()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
