"""What each architecture costs, measured in one process on one machine, so the figures
compare: parameters and training CPU-seconds to the best epoch (read from its seed runs),
batch-1 latency of the bare network at several input lengths, batched throughput, and the
registered text-in model's latency end to end (tokenizer, schema, DataFrame and all)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import mlflow
import pandas as pd
import torch

from zoo.registry.bundle import build_network
from zoo.registry.ensemble import run_bundle
from zoo.registry.loading import load_registered
from zoo.registry.versions import register_run
from zoo.sweeps.benchmark.arms import ArmResult
from zoo.tasks import kind
from zoo.training.cpu_time import TO_BEST
from zoo.training.latency import call_latency, network_latency, network_throughput


@dataclass
class Cost:
    params: int
    train_cpu_s_to_best: float | None  # mean over seeds
    latency_ms: dict[int, dict[str, float]]  # tokens -> {p50, p95, calls}: the bare network, batch 1
    throughput_tokens_s: float  # the bare network on a batch
    pyfunc_ms: dict[str, float]  # the registered model, one text per call
    model_uri: str
    threads: int = field(default_factory=torch.get_num_threads)


def training_cost(client: mlflow.MlflowClient, result: ArmResult) -> tuple[int, float | None]:
    """Parameters and mean CPU-seconds to the best epoch over the arm's seed runs."""
    runs = [client.get_run(r.run_id) for r in result.runs]
    params = int(runs[0].data.metrics.get("model/params", 0))
    to_best = [r.data.metrics[TO_BEST] for r in runs if TO_BEST in r.data.metrics]
    return params, statistics.mean(to_best) if to_best else None


def example_text(bundle: dict[str, Any], cost: dict[str, Any]) -> tuple[pd.DataFrame, dict | None]:
    """What the registered model is called with: a real-length sentence, or a prompt to continue."""
    task_kind = kind(bundle["task"])
    if task_kind.generates:  # a language model: continue the prompt by new_tokens characters
        return pd.DataFrame({"text": [cost["prompt"]]}), {"max_new_tokens": int(cost["new_tokens"]), "seed": 0}
    return pd.DataFrame({"text": ["what is the name of the longest river in the united states of america"]}), None


@torch.no_grad()
def measure(client: mlflow.MlflowClient, result: ArmResult, tracking_uri: str, cost: dict[str, Any]) -> Cost:
    """Every cost of one architecture (its seed-0 model stands for it; seeds differ in weights only)."""
    params, to_best = training_cost(client, result)
    first = client.get_run(result.first_run().run_id)
    bundle = run_bundle(client, first)
    network, _ = build_network(bundle)
    vocab = int(bundle["hparams"]["vocab_size"])
    task_kind = kind(bundle["task"])

    def forward(tokens: torch.Tensor) -> torch.Tensor:
        return task_kind.forward_tokens(network, tokens)

    latency = network_latency(forward, vocab, tuple(cost["lengths"]), int(cost["calls"]))
    throughput = network_throughput(forward, vocab, int(cost["batch"]), int(cost["batch_tokens"]))
    entry = register_run(first.info.run_id, tracking_uri, alias=None,
                         extra_tags=dict(result.arm.tags))
    uri = f"models:/{entry.name}/{entry.version}"
    model = load_registered(uri, tracking_uri)
    frame, params_ = example_text(bundle, cost)
    calls = int(cost["pyfunc_calls"]) if params_ is None else max(20, int(cost["pyfunc_calls"]) // 10)
    pyfunc = call_latency(lambda: model.predict(frame, params=params_), calls, warmup=5)
    return Cost(params, to_best, latency, throughput, pyfunc, uri)
