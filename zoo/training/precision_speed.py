"""What mixed precision buys on this machine (`make throughput ARGS="--precision bf16-mixed"`):
the zoo's training step (Lightning, the recipe's module) in fp32 and under the given
precision, on the same weights and the same length-bucketed batches of any task (the char
LM's windows with `task=generation`). Repeats are interleaved in rotating order and the gain
comes from process CPU time, paired repeat by repeat, as in `zoo.training.pipeline_speed`.

Why a recipe may gain little, measured (SST-2 LSTM 1x128, forward + backward + Adam, CPU time
per token): on a CPU, `nn.LSTM` over a packed batch runs a per-step path that bf16 barely
speeds up (1.07x); over a padded batch it runs oneDNN's fused kernel, 1.32x faster in bf16.
So the zoo runs `nn.LSTM`/`nn.GRU` cores padded on a CPU (`RecurrentEncoder`, both directions
exactly); the hand-written cores step in Python, where a step's fixed cost is not the matmul
that bf16 makes cheaper."""

from __future__ import annotations

import copy
import gc
import statistics
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch

from zoo.config import compose_config
from zoo.training.builders import build_datamodule, build_task, check_config
from zoo.training.pipeline_speed import zoo_timing
from zoo.training.throughput import Timing, paired_ratios, rotated, summarize

BASELINE = "32-true"
TARGET = 1.3  # the target: training tokens per CPU-second under bf16 against fp32


def compare_precisions(overrides: Sequence[str], precision: str, num_batches: int, repeats: int) -> dict[str, Any]:
    """Tokens per CPU-second of the zoo step in fp32 and at `precision`, and their paired ratio."""
    if repeats < 1 or num_batches < 1:
        raise ValueError("--batches and --repeats must be >= 1")
    chosen = any(o.startswith(("task=", "experiment=")) for o in overrides)  # else SST-2, as the other tables
    cfg = compose_config([*([] if chosen else ["task=sentiment"]), *overrides])
    spec = check_config(cfg)
    dm = build_datamodule(cfg)
    L.seed_everything(cfg.seed, verbose=False)
    dm.setup("fit")
    module = build_task(cfg, spec, dm)
    batches = [b for _, b in zip(range(num_batches), dm.train_dataloader(), strict=False)]
    tokens = sum(module.batch_tokens(b) for b in batches)
    initial = copy.deepcopy(module.state_dict())

    def measure(at: str) -> Timing:
        module.load_state_dict(initial)
        torch.manual_seed(cfg.seed)
        gc.collect()
        return zoo_timing(module, batches, at)

    names = [BASELINE, precision]
    for name in names:  # warm-up, not counted
        measure(name)
    timings: dict[str, list[Timing]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in rotated(names, repeat):
            timings[name].append(measure(name))
    rate = {name: [tokens / t.cpu_s for t in runs] for name, runs in timings.items()}
    gain = paired_ratios(rate[precision], rate[BASELINE])
    return {"model": spec.label(), "task": cfg.task.name, "precision": precision, "batches": num_batches,
            "tokens": tokens, "repeats": repeats, "threads": torch.get_num_threads(),
            "tokens_per_cpu_s": {name: summarize(r) | {"per_repeat": r} for name, r in rate.items()},
            "gain": summarize(gain) | {"per_repeat": gain}, "gain_median": statistics.median(gain)}


def format_precisions(r: dict[str, Any]) -> str:
    lines = [f"lstm-zoo precision: {r['task']} train, {r['model']}, {r['batches']} batches ({r['tokens']:,} tokens), "
             f"torch threads {r['threads']}, {r['repeats']} interleaved repeats",
             f"  {'precision':<14}{'tokens per CPU-second: min':>28} {'median':>9} {'max':>9}"]
    for name, stats in r["tokens_per_cpu_s"].items():
        lines.append(f"  {name:<14}{stats['min']:>28,.0f} {stats['median']:>9,.0f} {stats['max']:>9,.0f}")
    gain = r["gain"]
    lines.append(f"  {r['precision']} / {BASELINE}: {gain['median']:.3f}x   [{gain['min']:.3f} - {gain['max']:.3f}]"
                 f"   (target >= {TARGET}x)")
    return "\n".join(lines)
