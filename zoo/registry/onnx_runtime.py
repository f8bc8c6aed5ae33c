"""A classifier's network run by ONNX Runtime: `(tokens, lengths) -> logits` like the torch
network it was exported from, so the text-in pyfunc scores with it unchanged (tokenizing,
length-sorted chunks, the output columns). Measured on the SST-2 LSTM (docs/registry-and-serving.md):
one text 3x faster through the registered model; 256-text chunks level on an AVX512 Xeon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

INPUTS = ("tokens", "lengths")  # the exported graph's input names, in the network's argument order
OUTPUT = "logits"


class OnnxNetwork:
    """An ONNX Runtime session on the CPU, with as many threads as torch is told to use
    (`zoo-serve threads=`, OMP_NUM_THREADS), so a server's settings hold for both runtimes."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime  # only a model exported to ONNX needs it (its requirements pin it)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are about graph optimisations
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        feed = {"tokens": tokens.numpy().astype(np.int64, copy=False),
                "lengths": lengths.numpy().astype(np.int64, copy=False)}
        (logits,) = self.session.run([OUTPUT], feed)
        return torch.from_numpy(logits)
