"""Every part of a recurrent model at every step (i, f, g, o, c, h; a GRU's r, z, n, h), for
the texts given, written as one numpy `.npz` (no pickle needed to read it): what LSTMVis reads
from its HDF5 dumps, for any tool to plot or search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zoo.errors import ZooError
from zoo.explain.gates import trace_gates
from zoo.explain.report import check_recurrent
from zoo.explain.source import Subject
from zoo.tasks.inference import pad_ids, token_ids

MAX_TRACE_TOKENS = 4096  # per text: a 2 x 512 LSTM's trace of this is 4096 x 6 x 1024 floats, 100 MB


def write_traces(subject: Subject, texts: list[str], path: Path) -> str:
    """`path` gets `tokens` (texts x steps, '' past a text's end), `mask` (which steps are real)
    and `<layer>/<part>` arrays (texts x steps x units, float32), layers named as in the
    saturation table (`l0`, `l0_reverse`, ...). Returns the line to print."""
    check_recurrent(subject)
    ids = token_ids(subject.tokenizer, texts)
    longest = max(map(len, ids))
    if longest > MAX_TRACE_TOKENS:
        raise ZooError(f"traces= of a text of {longest} tokens; at most {MAX_TRACE_TOKENS} per text")
    encoder = subject.network.encoder
    tokens, lengths = pad_ids(ids, encoder.embedding.padding_idx or 0)
    with torch.inference_mode():
        trace = trace_gates(encoder.rnn, encoder.embedding(tokens), lengths)
    names = np.array([[subject.tokenizer.id_to_token(i) for i in row] + [""] * (longest - len(row)) for row in ids])
    arrays = {f"{layer.label}/{part}": value.float().numpy()
              for layer in trace.layers for part, value in layer.parts.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, tokens=names, mask=trace.mask.numpy(), **arrays)
    shown = ", ".join(sorted(arrays)[:6]) + (", ..." if len(arrays) > 6 else "")
    return f"traces of {len(texts)} text(s), {len(arrays)} arrays ({shown}), written to {path}"
