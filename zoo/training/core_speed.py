"""Training throughput of every registered recurrent core on the same batches
(`make throughput ARGS=--cores`): one table of tokens/s and the ratio to `nn.LSTM` (`lstm`).

Every core is built from the same recipe (the overrides given, SST-2 sentiment by default)
with only `model=<core>` changed, and trained by the plain PyTorch loop on the same
length-bucketed batches, so the table compares cores and nothing else. Repeats are
interleaved in rotating order and ratios come from process CPU time, paired repeat by
repeat, as in `zoo.training.pipeline_speed`.
"""

from __future__ import annotations

import copy
import gc
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch

from zoo.config import compose_config
from zoo.models.cores import all_cores
from zoo.models.encoders import all_encoders
from zoo.training.builders import build_datamodule, build_task, check_config
from zoo.training.callbacks import batch_tokens
from zoo.training.throughput import Timing, paired_ratios, plain_timing, rotated, summarize

BASELINE = "lstm"
TARGET = 0.7  # hand-written cores: at least this fraction of nn.LSTM's throughput


def core_overrides(name: str, hidden_size: int) -> list[str]:
    """What selects `name` on top of the recipe: its YAML, and a projection where it needs one."""
    projects = getattr(all_encoders()[name], "projects", False)
    extra = [f"model.proj_size={max(1, hidden_size // 2)}"] if projects else []
    return [f"model={name}", *extra]


def compare_cores(overrides: Sequence[str], num_batches: int, repeats: int,
                  names: Sequence[str] | None = None) -> dict[str, Any]:
    """Tokens/s per core and per-repeat CPU-time ratios to `lstm`, on the same batches."""
    if repeats < 1 or num_batches < 1:
        raise ValueError("--batches and --repeats must be >= 1")
    names = list(names or sorted(all_cores()))
    if BASELINE not in names:
        names.insert(0, BASELINE)
    base = compose_config(["task=sentiment", *overrides])
    dm = build_datamodule(base)
    L.seed_everything(base.seed, verbose=False)
    dm.setup()
    batches = [b for _, b in zip(range(num_batches), dm.train_dataloader(), strict=False)]
    tokens = sum(map(batch_tokens, batches))
    measures: dict[str, Callable[[], Timing]] = {}
    labels: dict[str, str] = {}
    for name in names:
        cfg = compose_config(["task=sentiment", *overrides, *core_overrides(name, base.model.hidden_size)])
        spec = check_config(cfg)
        module = build_task(cfg, spec, dm)
        labels[name] = spec.label()
        measures[name] = _measure(module, batches, cfg.seed)
    for measure in measures.values():  # warm-up: allocator pools and kernels for every shape
        measure()
    timings: dict[str, list[Timing]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in rotated(names, repeat):
            timings[name].append(measures[name]())
    cpu_rate = {name: [tokens / t.cpu_s for t in runs] for name, runs in timings.items()}
    cores = {}
    for name, runs in timings.items():
        ratios = paired_ratios(cpu_rate[name], cpu_rate[BASELINE])
        cores[name] = {
            "model": labels[name],
            "hand_written": not all_cores()[name].packed,
            "wall_tokens_per_s": statistics.median(tokens / t.wall_s for t in runs),
            "cpu_tokens_per_s": summarize(cpu_rate[name]),
            "ratio_to_lstm": summarize(ratios) | {"per_repeat": ratios},
        }
    return {"cores": cores, "tokens": tokens, "batches": num_batches, "batch_size": base.data.batch_size,
            "repeats": repeats, "threads": torch.get_num_threads(), "target": TARGET}


def _measure(module: L.LightningModule, batches: list, seed: int) -> Callable[[], Timing]:
    """A closure that trains `module` over `batches` from the same weights and dropout masks."""
    initial = copy.deepcopy(module.state_dict())

    def measure() -> Timing:
        module.load_state_dict(initial)
        torch.manual_seed(seed)
        gc.collect()
        return plain_timing(module, batches)

    return measure


def format_cores(r: dict[str, Any]) -> str:
    """The table, fastest first, with the hand-written cores checked against the target."""
    lines = [
        f"lstm-zoo throughput --cores: SST-2 train, {r['batches']} batches of {r['batch_size']} "
        f"({r['tokens']:,} tokens), torch threads {r['threads']}, {r['repeats']} interleaved repeats",
        f"  {'core':<10} {'model':<34} {'tokens/s':>9} {'CPU tokens/s':>12}   {'x nn.LSTM':>9}  [min - max]",
    ]
    order = sorted(r["cores"], key=lambda n: -r["cores"][n]["ratio_to_lstm"]["median"])
    slow = []
    for name in order:
        c = r["cores"][name]
        ratio = c["ratio_to_lstm"]
        mark = ""
        if c["hand_written"]:
            mark = "  hand-written" + ("" if ratio["median"] >= r["target"] else f"  BELOW {r['target']}")
            if ratio["median"] < r["target"]:
                slow.append(name)
        lines.append(f"  {name:<10} {c['model'][:34]:<34} {c['wall_tokens_per_s']:>9,.0f} "
                     f"{c['cpu_tokens_per_s']['median']:>12,.0f}   {ratio['median']:>9.3f}  "
                     f"[{ratio['min']:.3f} - {ratio['max']:.3f}]{mark}")
    verdict = (f"every hand-written core >= {r['target']}x nn.LSTM" if not slow
               else f"below {r['target']}x nn.LSTM: {', '.join(slow)}")
    lines.append(f"  ratios from CPU time (median of per-repeat ratios); {verdict}")
    return "\n".join(lines)
