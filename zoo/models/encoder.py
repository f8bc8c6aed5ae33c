"""Token embedding + the recurrent core the spec names, with padding that costs nothing."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.models.bidirectional import padded_bidirectional
from zoo.models.cores import Sizes, core
from zoo.models.pooling import real_steps
from zoo.models.regularisers import regularised
from zoo.models.state import State, map_state

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec


@contextlib.contextmanager
def onednn_for_autocast() -> Iterator[None]:
    """oneDNN off while a CPU autocast runs in a dtype this CPU's oneDNN has no kernels for (bf16
    without AVX512-BF16 or AMX, e.g. an AVX2-only EPYC). Autocast sends `nn.LSTM` over a padded
    batch (or a packed one whose rows are all one length) to oneDNN's bf16 kernel, which then
    fails: "could not create a primitive descriptor for the LSTM forward propagation primitive".
    PyTorch's own kernels run it in fp32 instead: correct, and no faster than fp32."""
    if not torch.is_autocast_enabled("cpu") or onednn_supports(torch.get_autocast_dtype("cpu")):
        yield
        return
    keep = dict(_deterministic=None, _allow_tf32=None, _fp32_precision=None)  # only `enabled` changes
    enabled = torch.backends.mkldnn.set_flags(_enabled=False, **keep)[0]
    try:
        yield
    finally:
        torch.backends.mkldnn.set_flags(_enabled=enabled, **keep)


@functools.cache
def onednn_supports(dtype: torch.dtype) -> bool:
    """Whether oneDNN runs `dtype` natively on this CPU (bf16: AVX512-BF16 or AMX; fp16:
    AVX512-FP16 or AMX-FP16); any other dtype (fp32) always."""
    probe = {torch.bfloat16: "_is_mkldnn_bf16_supported", torch.float16: "_is_mkldnn_fp16_supported"}.get(dtype)
    return probe is None or bool(getattr(torch.ops.mkldnn, probe)())


class RecurrentEncoder(nn.Module):
    """Embeds token ids and runs the recurrent core named by `spec.encoder`.

    With `lengths`, a packed core (`nn.LSTM`, `nn.GRU`) runs on a `PackedSequence` (no step
    is spent on padding) and any other core (`HandwrittenLSTM`) freezes each row's state past its
    end, so all return the state at each row's last real token.

    Except on a CPU, where `nn.LSTM` (without a projection) and `nn.GRU` run over the padded
    batch instead: PyTorch takes a per-step path for packed sequences there and oneDNN's fused
    kernel for a padded batch, 1.35x the training tokens per CPU-second on SST-2 batches in fp32
    and 1.78x under bf16 autocast (packed: 1.07x). Each row's outputs are exact up to its end (a
    unidirectional core never reads ahead) and zero after; of the final state only the top
    layer's h (read at each row's last step) is exact, and every other tensor of it is NaN, so
    nothing can use it unnoticed. A bidirectional core runs each direction padded, the
    backward one over each row reversed within its length (`zoo.models.bidirectional`).
    """

    recurrent = True
    stateful = True  # a language model carries its state from one window into the next

    def __init__(self, spec: EncoderSpec, vocab_size: int, pad_id: int | None) -> None:
        super().__init__()
        self.spec = spec
        self.step_size = self.output_size = spec.output_size
        self.core = core(spec.encoder)
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=pad_id)
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        # weight drop and locked dropout (model.weight_drop, model.locked_dropout) wrap the core;
        # without them this is the core itself
        self.rnn: nn.Module = regularised(self.core.build, Sizes(
            spec.embedding_dim, spec.hidden_size, spec.num_layers, spec.effective_dropout, spec.bidirectional,
            spec.proj_size,
        ), spec.weight_drop, spec.locked_dropout)

    def forward(
        self, tokens: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Return per-step outputs (batch, time, directions*hidden) and the final state."""
        embedded = self.embedding_dropout(self.embedding(tokens))
        with onednn_for_autocast():
            return self._recur(embedded, lengths, state)

    def _recur(self, embedded: Tensor, lengths: Tensor | None, state: State | None) -> tuple[Tensor, State]:
        if not self.core.packed:
            outputs, state = self.rnn(embedded, state, lengths)
        elif lengths is None:
            outputs, state = self.rnn(embedded, state)
        elif self.runs_padded(embedded, state):
            if self.spec.bidirectional:
                outputs, top = padded_bidirectional(self.rnn, embedded, lengths)
                state = self._top_only(top)
            else:
                outputs, state = self.rnn(embedded, state)
                outputs, state = self._at_lengths(outputs, state, lengths)
        else:
            packed = pack_padded_sequence(
                embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_out, state = self.rnn(packed, state)
            outputs, _ = pad_packed_sequence(
                packed_out, batch_first=True, total_length=embedded.shape[1]
            )
        return outputs, state

    def runs_padded(self, embedded: Tensor, state: State | None = None) -> bool:
        """Whether a batch with lengths runs padded (see the class). Not with a projection
        (lstmp): oneDNN has no kernel for it, and PyTorch's fallback gains nothing padded. A
        bidirectional core only as the plain module, from a zero state."""
        if embedded.device.type != "cpu" or self.spec.proj_size:
            return False
        return not self.spec.bidirectional or (state is None and isinstance(self.rnn, nn.LSTM | nn.GRU))

    def _top_only(self, top: Tensor) -> State:
        """A final state laid out as the module's, (layers * 2, batch, hidden) per tensor, with
        the top layer's h of both directions and NaN everywhere else."""
        h_n = torch.cat([top.new_full((2 * self.spec.num_layers - 2, *top.shape[1:]), float("nan")), top])
        return (h_n, torch.full_like(h_n, float("nan"))) if isinstance(self.rnn, nn.LSTM) else h_n

    def _at_lengths(self, outputs: Tensor, state: State, lengths: Tensor) -> tuple[Tensor, State]:
        """A padded run's outputs zeroed past each row's end, as `pad_packed_sequence` leaves them,
        and its final state: the top layer's h at each row's last step, NaN elsewhere."""
        lengths = lengths.to(outputs.device)
        outputs = outputs * real_steps(outputs, lengths).to(outputs.dtype)
        h_n = self.core.hidden(state)
        top = outputs[torch.arange(len(outputs), device=outputs.device), (lengths - 1).clamp(min=0)]
        exact = torch.cat([torch.full_like(h_n[:-1], float("nan")), top[None].to(h_n.dtype)])
        return outputs, map_state(lambda t: exact if t is h_n else torch.full_like(t, float("nan")), state)

    def post_pool(self, pooled: Tensor) -> Tensor:
        """Nothing follows pooling for a core (its output dropout comes before, in the classifier)."""
        return pooled

    def last_hidden(self, state: State) -> Tensor:
        """The top layer's final hidden state, both directions side by side."""
        h_n = self.core.hidden(state)
        if self.spec.bidirectional:
            return h_n.view(self.spec.num_layers, 2, *h_n.shape[1:])[-1].transpose(0, 1).flatten(1)
        return h_n[-1]

