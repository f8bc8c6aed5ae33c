"""Export a registered classifier's network to ONNX and prove it computes the same logits.

The exporter is `torch.onnx.export(dynamo=True)`, with the batch and time dimensions dynamic
(`Dim.DYNAMIC`: named `Dim` objects gave a static graph with torch 2.13) and an example batch
of two rows of different lengths (one row, or equal lengths, would specialise a dimension).
Whether a core exports is not listed by hand: every export is checked on the shapes scoring
sends (length-sorted chunks of random token rows, from one token to the model's maximum
length), and a graph off by more than PARITY_TOLERANCE is refused with the figure."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.errors import ZooError
from zoo.registry.onnx_runtime import INPUTS, OUTPUT, OnnxNetwork
from zoo.tasks.inference import length_chunks, pad_ids

PARITY_TOLERANCE = 1e-4  # max |logit difference| an export may have from the torch network
PARITY_TEXTS = 1024
PARITY_LONGEST = 256  # tokens, for a model without max_length


def export_network(network: nn.Module, path: Path, pad_id: int, encoder: str) -> Path:
    """Write `network` (eval mode) as an ONNX graph taking int64 `tokens` (batch x time) and
    `lengths` (batch) and giving `logits`; a core the exporter cannot trace is one line."""
    example = pad_ids([[pad_id + 1, pad_id + 2, pad_id + 1], [pad_id + 2]], pad_id)
    dynamic = torch.export.Dim.DYNAMIC
    _forget_rnn_kernels()
    chatter = io.StringIO()  # the exporter prints its progress (and a failed graph); the exception says why
    exporter_log = logging.getLogger("torch.onnx")  # warns of torchvision ops it skips registering
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with (torch.no_grad(), contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore", FutureWarning)  # deprecations inside torch.export, not ours
            warnings.simplefilter("ignore", UserWarning)  # "_flat_weights were assigned during export": nn.LSTM's own
            program = torch.onnx.export(network.eval(), example, dynamo=True, input_names=list(INPUTS),
                                        output_names=[OUTPUT], verbose=False, report=False,
                                        dynamic_shapes={"tokens": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}})
            program.save(str(path))
    except Exception as err:  # noqa: BLE001 - the exporter raises many kinds; the user needs one line
        raise ZooError(f"model.encoder={encoder} does not export to ONNX ({_export_reason(err)}); serve it with "
                       "torch (the registered version as it is)") from None
    finally:
        exporter_log.setLevel(level)
        _forget_rnn_kernels()
    return path


def _forget_rnn_kernels() -> None:
    """torch.onnx swaps in a while-loop kernel for aten.lstm/gru (dynamic time) while it exports
    and restores the old one after, but the op's dispatch cache keeps what it saw: a second
    export in the same process then unrolls the recurrence at the example's length (measured,
    torch 2.13). Clearing the cache around each export makes every export a first one."""
    for op in (torch.ops.aten.lstm.input, torch.ops.aten.gru.input):
        cache = getattr(op, "_dispatch_cache", None)
        if cache is not None:
            cache.clear()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:300]}" if text else type(err).__name__


def _export_reason(err: BaseException) -> str:
    """Why torch.export failed, in words: its messages run to pages of advice."""
    chain = [err]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None:  # torch.onnx wraps torch.export's
        chain.append(cause)
    if type(err).__name__ == "TorchExportError":  # step 1 of 3: torch.export could not capture one graph
        return ("its forward runs Python that depends on each batch's lengths: the hand-written cores' per-step "
                f"loop, lstmp's packed sequences; {_first_line(chain[-1])[:160]}")
    return _first_line(chain[-1])


def random_rows(vocab_size: int, pad_id: int, longest: int, count: int = PARITY_TEXTS,
                seed: int = 0) -> list[list[int]]:
    """`count` rows of random real token ids (never padding), every length from 1 to `longest`
    represented: what the parity check scores, with no dataset needed."""
    rng = np.random.default_rng(seed)
    ids = np.array([i for i in range(vocab_size) if i != pad_id])
    lengths = np.concatenate([np.arange(1, longest + 1), rng.integers(1, longest + 1, max(0, count - longest))])
    return [rng.choice(ids, int(n)).tolist() for n in lengths[:count]]


@torch.no_grad()
def parity(network: nn.Module, runtime: OnnxNetwork, rows: list[list[int]], pad_id: int) -> float:
    """The largest |logit difference| between torch and ONNX Runtime over `rows`, scored in the
    length-sorted chunks classification sends."""
    worst = 0.0
    for chunk in length_chunks(rows):
        tokens, lengths = pad_ids([rows[i] for i in chunk], pad_id)
        difference = (network(tokens, lengths).float() - runtime(tokens, lengths)).abs().max()
        worst = max(worst, float(difference))
    return worst


def check_parity(network: nn.Module, path: Path, vocab_size: int, pad_id: int, max_length: int | None,
                 encoder: str) -> float:
    """The export's parity, or a ZooError when it is off by more than PARITY_TOLERANCE."""
    rows = random_rows(vocab_size, pad_id, max_length or PARITY_LONGEST)
    try:
        worst = parity(network, OnnxNetwork(path, threads=1), rows, pad_id)
    except Exception as err:  # noqa: BLE001 - ONNX Runtime's own error types (Fail, InvalidArgument, ...)
        raise ZooError(f"model.encoder={encoder} exported to ONNX does not run in ONNX Runtime "
                       f"({_first_line(err)}); serve it with torch") from None
    if not worst <= PARITY_TOLERANCE:
        raise ZooError(f"model.encoder={encoder} exported to ONNX computes other logits than torch (max |difference| "
                       f"{worst:.2e} over {len(rows):,} texts, tolerance {PARITY_TOLERANCE:.0e}); serve it with torch")
    return worst
