"""Inference latency of a trained model: a second objective for multi-objective sweeps, and the
serving cost the model comparison reports (batch-1 latency percentiles, batched throughput)."""

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


def _percentiles(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {"p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "calls": len(ordered)}


@torch.no_grad()
def call_latency(call, calls: int = 500, warmup: int = 20) -> dict[str, float]:
    """p50 and p95 wall time (ms) of `call()` over `calls` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return _percentiles(times)


def random_tokens(vocab_size: int, rows: int, length: int, seed: int = 0) -> torch.Tensor:
    """Token ids that are neither padding nor unknown (ids 0 and 1 are the tokenizers' specials)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(2, max(3, vocab_size), (rows, length), generator=generator)


@torch.no_grad()
def network_latency(forward, vocab_size: int, lengths: tuple[int, ...], calls: int = 500) -> dict[int, dict]:
    """Batch-1 latency of `forward(tokens)` (an eval-mode network) at each input length."""
    figures = {}
    for length in lengths:
        tokens = random_tokens(vocab_size, 1, length)
        figures[length] = call_latency(lambda tokens=tokens: forward(tokens), calls)
    return figures


@torch.no_grad()
def network_throughput(forward, vocab_size: int, rows: int, length: int, repeats: int = 10) -> float:
    """Tokens per second of `forward` on a batch of `rows` inputs of `length` tokens (median of repeats)."""
    tokens = random_tokens(vocab_size, rows, length)
    forward(tokens)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(tokens)
        times.append(time.perf_counter() - start)
    return rows * length / statistics.median(times)
