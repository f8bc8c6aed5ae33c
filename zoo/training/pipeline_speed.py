"""The speed of the zoo's training pipeline (the `zoo-throughput` tool, `make throughput`): two
comparisons, each measured side by side in one process on the same model weights and the
same batches:

1. the zoo's training step (Lightning Trainer + TextClassifier + the zoo's callbacks)
   against a plain PyTorch loop (zero_grad, forward, loss, backward, step);
2. length-bucketed batches with packed sequences against naive padding: random batches
   padded to the longest row in the dataset (fixed length) and to the longest row in the
   batch, both run over every padded step.

Tokens count real tokens only, so padding shows up as lost throughput. Every figure is
timed twice: wall clock (tokens/s) and process CPU time (CPU seconds per 1k tokens). The
ratios come from CPU time, which other processes on a shared machine do not inflate.

Why wall-clock ratios used to jump (zoo/plain 7.98, 1.25, 1.13 on one 2-core machine):
torch ran one OpenMP thread per core, and the packed LSTM is thousands of tiny parallel
regions per batch with the idle thread spinning between them, so the measurement kept both
cores busy (1.98 CPU s per wall s for a 1.5x speedup). Any other process on the machine
then preempts a measuring thread, every barrier waits for its next time slice, and whichever
figure runs at that moment slows down (a neighbour using 10% of one core already cost 12%
of wall-clock throughput at 2 threads and nothing measurable at 1). Hence: one thread by
default (`--threads`), ratios from process CPU time (which excludes time the process was
not running), 5 interleaved repeats in rotating order, the warm-up fit kept out, and only
the training epoch inside the timers (Trainer construction, `fit` setup, optimiser creation
and garbage collection stay out).
"""

from __future__ import annotations

import copy
import gc
import logging
import statistics
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from zoo.config import compose_config
from zoo.data.batching import PadCollator
from zoo.training.builders import build_datamodule, build_task, check_config
from zoo.training.callbacks import NonFiniteLossGuard, batch_tokens
from zoo.training.throughput import (
    Stopwatch,
    Timing,
    cpu_s_per_1k_tokens,
    paired_ratios,
    plain_timing,
    relative_spread,
    rotated,
    summarize,
)

Batch = dict[str, torch.Tensor]

# figure name -> label in the printed table, in measuring order
FIGURES = {
    "zoo": "zoo step (Lightning)",
    "plain": "plain PyTorch loop",
    "naive_batch_pad": "naive: pad to batch max",
    "naive_fixed_pad": "naive: pad to data max",
}
# ratio name -> (numerator figure, denominator figure); each is a throughput ratio
RATIOS = {
    "zoo_vs_plain_ratio": ("zoo", "plain"),
    "bucketing_gain_vs_batch_pad": ("plain", "naive_batch_pad"),
    "bucketing_gain_vs_fixed_pad": ("plain", "naive_fixed_pad"),
}
NOISY_SPREAD = 0.10  # a ratio whose repeats spread wider than this gets a warning


def set_threads(threads: int) -> None:
    """Pin torch's intra-op (OpenMP/MKL) pool and, while still allowed, its inter-op pool."""
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    try:  # allowed only before any inter-op work has started in this process
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass


# ---------------------------------------------------------------------------------------
# the four measurements


class _EpochClock(Callback):
    """Times the training epoch as Lightning runs it, per-step overhead included; the
    Trainer's construction and `fit` setup/teardown happen outside it."""

    def __init__(self) -> None:
        self.watch = Stopwatch()
        self.timing: Timing | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.watch.start()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.timing = self.watch.stop()


def zoo_timing(module: L.LightningModule, batches: list[Batch], precision: str = "32-true") -> Timing:
    """One Lightning epoch over `batches` at `precision`; only the epoch is inside the clock."""
    clock = _EpochClock()
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, precision=precision, callbacks=[clock, NonFiniteLossGuard()],
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    assert clock.timing is not None, "Lightning ran no training epoch"
    return clock.timing


def _naive_batches(dm, count: int, batch_size: int, fixed_length: int | None, seed: int) -> list[Batch]:
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dm.splits["train"]), generator=generator)[: count * batch_size]
    collate = PadCollator(dm.pad_id)
    batches = []
    for chunk in order.split(batch_size):
        batch = collate([dm.splits["train"][i] for i in chunk.tolist()])
        if fixed_length is not None:
            padded = torch.full((len(chunk), fixed_length), dm.pad_id, dtype=torch.long)
            padded[:, : batch["input_ids"].shape[1]] = batch["input_ids"]
            batch["input_ids"] = padded
        batches.append(batch)
    return batches


# ---------------------------------------------------------------------------------------


def run(overrides: list[str], num_batches: int, repeats: int) -> dict[str, Any]:
    if repeats < 1 or num_batches < 1:
        raise ValueError("--batches and --repeats must be >= 1")
    cfg = compose_config(["task=sentiment", *overrides])
    spec = check_config(cfg)
    dm = build_datamodule(cfg)
    L.seed_everything(cfg.seed, verbose=False)
    dm.setup()
    module = build_task(cfg, spec, dm)
    bucketed = [b for _, b in zip(range(num_batches), dm.train_dataloader(), strict=False)]
    initial = copy.deepcopy(module.state_dict())

    def fresh() -> L.LightningModule:
        """Same weights and the same dropout masks for every measurement."""
        module.load_state_dict(initial)
        torch.manual_seed(cfg.seed)
        gc.collect()  # the previous fit's garbage is collected here, not inside a timer
        return module

    batch_size = cfg.data.batch_size
    longest = max(max(len(x) for x in part.input_ids) for part in dm.splits.values())
    fixed = _naive_batches(dm, num_batches, batch_size, longest, cfg.seed)
    dynamic = _naive_batches(dm, num_batches, batch_size, None, cfg.seed)
    measures: dict[str, tuple[Callable[[], Timing], int]] = {
        "zoo": (lambda: zoo_timing(fresh(), bucketed), sum(map(batch_tokens, bucketed))),
        "plain": (lambda: plain_timing(fresh(), bucketed), sum(map(batch_tokens, bucketed))),
        "naive_batch_pad": (lambda: plain_timing(fresh(), dynamic, packed=False), sum(map(batch_tokens, dynamic))),
        "naive_fixed_pad": (lambda: plain_timing(fresh(), fixed, packed=False), sum(map(batch_tokens, fixed))),
    }
    # Warm-up, not counted: Lightning's first fit (lazy imports, hook discovery), the
    # allocator's pools and the kernels for every batch shape. Kept in the JSON.
    warmup = {name: measure() for name, (measure, _) in measures.items()}
    timings: dict[str, list[Timing]] = {name: [] for name in measures}
    for repeat in range(repeats):  # interleaved: drift in machine load hits every figure alike
        for name in rotated(list(measures), repeat):
            timings[name].append(measures[name][0]())
    return collect_results(timings, {n: t for n, (_, t) in measures.items()}, warmup) | {
        "model": spec.label(),
        "batches": num_batches,
        "batch_size": batch_size,
        "fixed_pad_length": longest,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }


def collect_results(
    timings: dict[str, list[Timing]], tokens: dict[str, int], warmup: dict[str, Timing] | None = None
) -> dict[str, Any]:
    """Per-figure min/median/max and the ratios, from each repeat's timings."""
    results: dict[str, Any] = {"figures": {}, "ratios": {}}
    cpu_rate: dict[str, list[float]] = {}
    wall_rate: dict[str, list[float]] = {}
    for name, runs in timings.items():
        wall_rate[name] = [tokens[name] / t.wall_s for t in runs]
        cpu_rate[name] = [tokens[name] / t.cpu_s for t in runs]
        cpu_per_1k = [cpu_s_per_1k_tokens(t.cpu_s, tokens[name]) for t in runs]
        results["figures"][name] = {
            "tokens": tokens[name],
            "wall_tokens_per_s": summarize(wall_rate[name]) | {"per_repeat": wall_rate[name]},
            "cpu_s_per_1k_tokens": summarize(cpu_per_1k) | {"per_repeat": cpu_per_1k},
            "cpu_utilization": statistics.median(t.cpu_s / t.wall_s for t in runs),  # threads kept busy
        }
        if warmup is not None:
            results["figures"][name]["warmup"] = {
                "wall_tokens_per_s": tokens[name] / warmup[name].wall_s,
                "cpu_s_per_1k_tokens": cpu_s_per_1k_tokens(warmup[name].cpu_s, tokens[name]),
            }
        # flat keys, as before: median wall-clock tokens/s
        results[f"{name}_tokens_per_s"] = results["figures"][name]["wall_tokens_per_s"]["median"]
        results[f"{name}_cpu_s_per_1k_tokens"] = results["figures"][name]["cpu_s_per_1k_tokens"]["median"]
    for ratio, (num, den) in RATIOS.items():
        # Median of per-repeat ratios rather than ratio of medians: the two figures of one
        # repeat run back to back, so a slow phase of the shared machine (a neighbour on the
        # sibling hyperthread, a frequency drop) scales both and cancels in their ratio, and
        # the median then drops the odd repeat where a burst hit one side only. A ratio of
        # medians pairs figures taken at different moments and keeps that drift.
        per_repeat = paired_ratios(cpu_rate[num], cpu_rate[den])
        wall = paired_ratios(wall_rate[num], wall_rate[den])
        results["ratios"][ratio] = summarize(per_repeat) | {
            "per_repeat": per_repeat, "spread": relative_spread(per_repeat),
            "wall_clock_median": statistics.median(wall),
        }
        results[ratio] = results["ratios"][ratio]["median"]
    # the plain loop runs on the zoo's bucketed, packed batches: it is the bucketing figure
    results["bucketed_packed_tokens_per_s"] = results["plain_tokens_per_s"]
    results["ratio_basis"] = "process CPU time, median of per-repeat ratios"
    return results


def format_results(r: dict[str, Any]) -> str:
    def label(name: str) -> str:
        if name == "naive_fixed_pad":
            return f"naive: pad to {int(r['fixed_pad_length']):>3} (data max)"
        return FIGURES[name]

    lines = [
        f"lstm-zoo throughput: SST-2 train, {r['model']}, {r['batches']} batches of {r['batch_size']}, "
        f"torch threads {r['threads']}, {r['repeats']} interleaved repeats",
        f"  {'':<30}{'wall-clock tokens/s':>29}   {'CPU s per 1k tokens':>23}",
        f"  {'':<30}{'min':>9} {'median':>9} {'max':>9}   {'min':>7} {'median':>7} {'max':>7}",
    ]
    for name in FIGURES:
        wall, cpu = r["figures"][name]["wall_tokens_per_s"], r["figures"][name]["cpu_s_per_1k_tokens"]
        lines.append(
            f"  {label(name):<30}{wall['min']:>9,.0f} {wall['median']:>9,.0f} {wall['max']:>9,.0f}"
            f"   {cpu['min']:>7.4f} {cpu['median']:>7.4f} {cpu['max']:>7.4f}"
        )
    lines.append("  ratios from CPU time (median of per-repeat ratios, [min - max] over repeats):")
    notes = {
        "zoo_vs_plain_ratio": ("ratio zoo / plain", "", "   (target >= 0.90)"),
        "bucketing_gain_vs_batch_pad": ("bucketing gain vs pad to batch max", "x", ""),
        "bucketing_gain_vs_fixed_pad": (f"bucketing gain vs pad to {int(r['fixed_pad_length'])}", "x", ""),
    }
    noisy = []
    for ratio, (text, prefix, note) in notes.items():
        stats = r["ratios"][ratio]
        lines.append(
            f"  {text:<36}{prefix}{stats['median']:.3f}   [{stats['min']:.3f} - {stats['max']:.3f}]{note}"
        )
        if stats["spread"] > NOISY_SPREAD:
            noisy.append(text)
    if noisy:
        lines.append(
            f"  warning: repeats spread more than {NOISY_SPREAD:.0%} in: {'; '.join(noisy)}\n"
            "  the machine is busy: rerun, or raise --batches / --repeats"
        )
    return "\n".join(lines)


def quiet_lightning() -> None:
    """Drop the banner, tips and warnings every `Trainer`/`fit` prints, so the table stands alone."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*validation_step.*val_dataloader.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


