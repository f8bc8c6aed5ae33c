"""The GPU path in one prepared script (issues 20 and 23), for a session that is lent a device:

1. every recurrent core on the device: forward + backward of one batch, the hand-written
   `gates` core equal to cuDNN's `nn.LSTM` with the same weights, weight drop included;
2. training tokens/s of `nn.LSTM` (cuDNN) in fp32, fp16 and bf16 autocast, against a bare
   cuDNN loop on the same shapes (padded SST-2-sized batches and the char LM's windows);
3. `trainer=gpu` on each task: a short real training run (`max_steps`), its tokens/s and
   test metric;
4. `zoo-explain`'s integrated gradients on the device (cuDNN's RNN backward needs training
   mode, so the attribution turns cuDNN off for its backward): finite, and equal to the CPU's.

Prints a table and writes every figure to `<out>/gpu_check.json`. `device=cpu steps=2` runs
the same code small, which the test suite does, so the script is known to work before a
device is lent.

    python scripts/gpu_check.py out=$OUT [device=cuda] [steps=200] [data_dir=../shared/data]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

CORE_BATCH, CORE_STEPS, CORE_WIDTH = 64, 24, 128


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cores_on(device: str) -> dict[str, Any]:
    """Every registered core runs forward and backward on `device`; `gates` equals `nn.LSTM`."""
    from zoo.models import EncoderSpec, SequenceClassifier
    from zoo.models.cores import all_cores

    torch.manual_seed(0)
    tokens = torch.randint(2, 50, (8, 12), device=device)
    lengths = torch.randint(1, 13, (8,), device=device)
    out: dict[str, Any] = {}
    for name in sorted(all_cores()):
        extra = {"proj_size": 8} if all_cores()[name].projects else {}
        spec = EncoderSpec.from_config({"encoder": name, "hidden_size": 16, "embedding_dim": 8, "num_layers": 2,
                                        "weight_drop": 0.2, **extra})
        net = SequenceClassifier(spec, 50, 3, 0, "last").to(device).train()
        net(tokens, lengths).float().sum().backward()
        out[name] = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in net.parameters())
    lstm = SequenceClassifier(EncoderSpec(encoder="lstm", hidden_size=16, embedding_dim=8), 50, 3, 0, "last")
    gates = SequenceClassifier(EncoderSpec(encoder="gates", hidden_size=16, embedding_dim=8), 50, 3, 0, "last")
    gates.load_state_dict(lstm.state_dict())
    with torch.no_grad():
        a = lstm.to(device).eval()(tokens, lengths)
        b = gates.to(device).eval()(tokens, lengths)
    out["gates_equals_cudnn_max_abs"] = float((a - b).abs().max())
    return out


def lstm_speed(device: str, steps: int, batch: int, length: int, width: int, layers: int) -> dict[str, float]:
    """Tokens/s of a bare `nn.LSTM` training loop, fp32 and under fp16/bf16 autocast."""
    from zoo.models.encoder import onednn_for_autocast

    lstm = nn.LSTM(width, width, layers, batch_first=True).to(device)
    head = nn.Linear(width, width).to(device)
    optimizer = torch.optim.AdamW([*lstm.parameters(), *head.parameters()], 1e-3)
    x = torch.randn(batch, length, width, device=device)
    out = {}
    dtypes = {"fp32": None, "bf16": torch.bfloat16} | ({"fp16": torch.float16} if device.startswith("cuda") else {})
    for label, dtype in dtypes.items():
        scaler = torch.amp.GradScaler(device.split(":")[0], enabled=dtype is torch.float16)
        for warm in (True, False):
            synchronize(device)
            start = time.perf_counter()
            for _ in range(2 if warm else steps):
                optimizer.zero_grad()
                with torch.autocast(device.split(":")[0], dtype=dtype or torch.float32, enabled=dtype is not None), \
                        onednn_for_autocast():  # a CPU without bf16 kernels: PyTorch's own, in fp32
                    loss = head(lstm(x)[0]).float().pow(2).mean()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            synchronize(device)
        out[label] = batch * length * steps / (time.perf_counter() - start)
    return out


def train_each_task(device: str, steps: int, data_dir: str, folder: Path, small: bool) -> dict[str, Any]:
    """`trainer=gpu` (or the CPU trainer) on each task for `steps` optimiser steps (`debug=smoke`
    sizes for a dry run)."""
    from zoo.config import compose_config
    from zoo.training.pipeline import run_training

    trainer = ["trainer=gpu"] if device.startswith("cuda") else ["trainer.accelerator=cpu"]
    out = {}
    for task in ("sentiment", "classification", "generation"):
        cfg = compose_config([f"task={task}", *trainer, f"paths.data_dir={data_dir}", f"trainer.max_steps={steps}",
                              f"logger.tracking_uri=sqlite:///{folder}/mlflow.db",
                              f"logger.artifact_root={folder}/mlartifacts", f"paths.log_dir={folder}/logs",
                              f"paths.cache_dir={folder}/cache", "callbacks.progress_bar.refresh_rate=0",
                              *(["debug=smoke"] if small else [])])
        start = time.perf_counter()
        result = run_training(cfg)
        out[task] = {"seconds": time.perf_counter() - start,
                     **{k: v for k, v in result.metrics.items() if k.startswith(("test/acc", "test/loss"))}}
    return out


def attributions_on(device: str) -> dict[str, float]:
    """Integrated gradients with the network on `device` against the same on the CPU."""
    from zoo.models import EncoderSpec, SequenceClassifier
    from zoo.tasks.attribution import attribute

    torch.manual_seed(0)
    spec = EncoderSpec(encoder="lstm", hidden_size=16, embedding_dim=8, bidirectional=True)
    net = SequenceClassifier(spec, 50, 3, 0, "last").eval()
    tokens, lengths = torch.randint(2, 50, (4, 10)), torch.tensor([10, 7, 3, 9])
    cpu = attribute(net, tokens, lengths, 0, n_steps=32)
    moved = attribute(net.to(device), tokens.to(device), lengths.to(device), 0, n_steps=32)
    return {"max_abs_difference": float((moved.scores["integrated_gradients"].cpu()
                                         - cpu.scores["integrated_gradients"]).abs().max()),
            "delta_max": float(moved.delta.abs().max())}


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv)
    device = options.get("device", "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device here; run this on a lent GPU machine, or device=cpu for a dry run",
              file=sys.stderr)
        return 2
    folder = Path(options.get("out", "gpu_check"))
    folder.mkdir(parents=True, exist_ok=True)
    steps = int(options.get("steps", "200"))
    data_dir = options.get("data_dir", "../shared/data")
    small = steps < 10
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if device.startswith("cuda") else None,
        "cores": cores_on(device),
        "lstm_classifier_tokens_per_s": lstm_speed(device, steps, 64, 24, 128, 1),
        "lstm_char_lm_tokens_per_s": lstm_speed(device, steps, 64 if not small else 4, 128 if not small else 16,
                                                512 if not small else 32, 2),
        "attributions": attributions_on(device),
        "training": train_each_task(device, steps, data_dir, folder, small),
    }
    (folder / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
