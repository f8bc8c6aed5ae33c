"""Would ONNX Runtime run a registered classifier's network faster than torch? (issue 23's
optional ONNX item: build `zoo-export format=onnx` only if it measures faster.)

Exports the network (`torch.onnx.export`, dynamo, batch and time dynamic), checks parity on
SST-2 sentences and times both in one process, one thread each: one text per call (p50) and
256-text length-sorted chunks (CPU time). Needs onnx, onnxruntime and onnxscript, which the
project does not install yet:

    pip install --target /tmp/onnxpkgs onnx onnxruntime onnxscript   # then drop the numpy etc. it adds
    PYTHONPATH=/tmp/onnxpkgs python scripts/onnx_probe.py model=models:/sst2-sentiment@champion [texts=20000]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from batch_scoring import sentences
from inprocess_latency import TEXT, percentiles


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv)
    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("error: needs onnx, onnxruntime and onnxscript (see this script's docstring)")
    from zoo.registry.loading import load_registered
    from zoo.tasks.inference import length_chunks, pad_ids, token_ids

    torch.set_num_threads(1)
    inner = load_registered(options["model"]).unwrap_python_model()
    network, tokenizer = inner.model.network.eval(), inner.model.tokenizer
    one = pad_ids(token_ids(tokenizer, [TEXT]))
    example = pad_ids(token_ids(tokenizer, [TEXT, "dull"]))  # an example batch of 1 would specialise
    dynamic = torch.export.Dim.DYNAMIC  # named Dim(...) objects gave a static graph with torch 2.13
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "network.onnx"
        torch.onnx.export(network, example, dynamo=True, input_names=["tokens", "lengths"], output_names=["logits"],
                          dynamic_shapes={"tokens": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}}).save(path)
        settings = ort.SessionOptions()
        settings.intra_op_num_threads = settings.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"])

    def feed(tokens: torch.Tensor, lengths: torch.Tensor) -> dict[str, np.ndarray]:
        return {"tokens": tokens.numpy(), "lengths": lengths.numpy()}

    ids = token_ids(tokenizer, sentences(int(options.get("texts", "20000"))))
    chunks = [pad_ids([ids[i] for i in rows]) for rows in length_chunks(ids)]
    with torch.no_grad():
        parity = max(float(np.abs(session.run(None, feed(*c))[0] - network(*c).numpy()).max()) for c in chunks)
        print(f"| parity, {len(ids):,} texts | max abs difference {parity:.1e} |")
        for _ in range(2):
            print(f"| one text, torch | {percentiles(lambda: network(*one), 2000)} |")
            print(f"| one text, onnxruntime | {percentiles(lambda: session.run(None, feed(*one)), 2000)} |")
            start = time.process_time()
            for chunk in chunks:
                network(*chunk)
            torch_s = time.process_time() - start
            start = time.process_time()
            for chunk in chunks:
                session.run(None, feed(*chunk))
            ort_s = time.process_time() - start
            print(f"| {len(ids):,} texts in chunks, CPU s | torch {torch_s:.2f} | onnxruntime {ort_s:.2f} "
                  f"({torch_s / ort_s:.2f}x) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
