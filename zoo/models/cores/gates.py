"""`gates`: the LSTM gate equations written out by hand (`zoo.models.handwritten_lstm`, where the
equations are); equal to `lstm` given the same weights. State (h, c); unidirectional, and
it freezes each row past its length itself instead of running on a PackedSequence."""

from __future__ import annotations

from torch import nn

from zoo.models.cores import Core, Sizes, register
from zoo.models.handwritten_lstm import HandwrittenLSTM


def build(sizes: Sizes) -> nn.Module:
    return HandwrittenLSTM(sizes.input_size, sizes.hidden_size, sizes.num_layers, sizes.dropout)


CORE = register(Core(name="gates", build=build, packed=False, bidirectional=False,
                     bidirectional_instead="model=bilstm for a bidirectional LSTM"))
