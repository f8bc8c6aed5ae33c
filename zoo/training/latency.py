"""Inference latency of a trained model: a second objective for multi-objective sweeps."""

from __future__ import annotations

import statistics
import time

import torch

from zoo.tasks import ZooTask


@torch.no_grad()
def inference_ms(module: ZooTask, batch: dict[str, torch.Tensor], repeats: int = 5) -> float:
    """Median wall time (ms) of one forward pass over `batch` in eval mode, after a warm-up."""
    module.eval()
    inputs = {k: v.to(module.device) for k, v in batch.items()}
    module.forward_batch(inputs)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        module.forward_batch(inputs)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
