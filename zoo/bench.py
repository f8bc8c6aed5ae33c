"""`python -m zoo.bench [--batches N] [--repeats R] [overrides]` (`make bench`).

Two throughput figures, each measured side by side in one process on the same model
weights and the same batches:

1. the zoo's training step (Lightning Trainer + TextClassifier + the zoo's callbacks)
   against a plain PyTorch loop (zero_grad, forward, loss, backward, step);
2. length-bucketed batches with packed sequences against naive padding: random batches
   padded to the longest row in the dataset (fixed length) and to the longest row in the
   batch, both run over every padded step.

Tokens/s counts real tokens only, so padding shows up as lost throughput.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.nn import functional as F
from torch.utils.data import DataLoader

from zoo.config import compose_config
from zoo.data.batching import PadCollator
from zoo.training.builders import build_datamodule, build_task, check_config
from zoo.training.callbacks import NonFiniteLossGuard, batch_tokens

Batch = dict[str, torch.Tensor]


class _EpochClock(Callback):
    """Wall time of the training epoch as Lightning runs it, overhead included."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.start


def zoo_seconds(module: L.LightningModule, batches: list[Batch]) -> float:
    clock = _EpochClock()
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, callbacks=[clock, NonFiniteLossGuard()],
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    return clock.seconds


def plain_seconds(module: L.LightningModule, batches: list[Batch], packed: bool = True) -> float:
    """The loop a PyTorch user writes by hand, over the same network and batches."""
    network = module.network
    network.train()
    optimizer = module.configure_optimizers()
    start = time.perf_counter()
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
    return time.perf_counter() - start


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


def run(overrides: list[str], num_batches: int, repeats: int) -> dict[str, float | str]:
    cfg = compose_config(["task=sentiment", *overrides])
    spec = check_config(cfg)
    dm = build_datamodule(cfg)
    L.seed_everything(cfg.seed)
    dm.setup()
    module = build_task(cfg, spec, dm)
    bucketed = [b for _, b in zip(range(num_batches), dm.train_dataloader(), strict=False)]
    bucket_tokens = sum(batch_tokens(b) for b in bucketed)
    initial = copy.deepcopy(module.state_dict())

    def fresh() -> L.LightningModule:
        module.load_state_dict(initial)
        return module

    batch_size = cfg.data.batch_size
    longest = max(max(len(x) for x in part.input_ids) for part in dm.splits.values())
    fixed = _naive_batches(dm, num_batches, batch_size, longest, cfg.seed)
    dynamic = _naive_batches(dm, num_batches, batch_size, None, cfg.seed)
    naive_tokens = sum(batch_tokens(b) for b in fixed)
    measures: dict[str, tuple[Callable[[], float], int]] = {
        "zoo_tokens_per_s": (lambda: zoo_seconds(fresh(), bucketed), bucket_tokens),
        "plain_tokens_per_s": (lambda: plain_seconds(fresh(), bucketed), bucket_tokens),
        "naive_batch_pad_tokens_per_s": (lambda: plain_seconds(fresh(), dynamic, packed=False), naive_tokens),
        "naive_fixed_pad_tokens_per_s": (lambda: plain_seconds(fresh(), fixed, packed=False), naive_tokens),
    }
    for measure, _ in measures.values():  # warm-up: allocator, kernels for every shape
        measure()
    rates: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeats):  # interleaved, so drift in machine load hits every figure alike
        for name, (measure, tokens) in measures.items():
            rates[name].append(tokens / measure())
    results: dict[str, float | str] = {name: statistics.median(values) for name, values in rates.items()}
    results.update({
        "model": f"{'bi' if spec.bidirectional else ''}{spec.variant} L{spec.num_layers} H{spec.hidden_size}",
        "batches": num_batches,
        "batch_size": batch_size,
        "fixed_pad_length": longest,
    })
    # the plain loop runs on the zoo's bucketed, packed batches: it is the bucketing figure
    results["bucketed_packed_tokens_per_s"] = results["plain_tokens_per_s"]
    results["zoo_vs_plain_ratio"] = results["zoo_tokens_per_s"] / results["plain_tokens_per_s"]
    results["bucketing_gain_vs_fixed_pad"] = (
        results["bucketed_packed_tokens_per_s"] / results["naive_fixed_pad_tokens_per_s"])
    results["bucketing_gain_vs_batch_pad"] = (
        results["bucketed_packed_tokens_per_s"] / results["naive_batch_pad_tokens_per_s"])
    return results


def format_results(r: dict) -> str:
    return "\n".join([
        f"lstm-zoo bench: SST-2 train, {r['model']}, {r['batches']} batches of {r['batch_size']}, "
        f"torch threads {torch.get_num_threads()}",
        f"  zoo step (Lightning)          {r['zoo_tokens_per_s']:>10,.0f} tokens/s",
        f"  plain PyTorch loop            {r['plain_tokens_per_s']:>10,.0f} tokens/s",
        f"  ratio zoo / plain             {r['zoo_vs_plain_ratio']:>10.3f}   (target >= 0.90)",
        f"  bucketed + packed (plain)     {r['bucketed_packed_tokens_per_s']:>10,.0f} tokens/s",
        f"  naive: pad to batch max       {r['naive_batch_pad_tokens_per_s']:>10,.0f} tokens/s"
        f"   gain x{r['bucketing_gain_vs_batch_pad']:.2f}",
        f"  naive: pad to {int(r['fixed_pad_length']):>3} (data max) "
        f"{r['naive_fixed_pad_tokens_per_s']:>10,.0f} tokens/s"
        f"   gain x{r['bucketing_gain_vs_fixed_pad']:.2f}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=150, help="training batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per figure (median)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=bilstm")
    args = parser.parse_args()
    results = run(args.overrides, args.batches, args.repeats)
    print(format_results(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
