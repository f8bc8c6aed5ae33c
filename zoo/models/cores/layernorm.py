"""`layernorm`: the layer-normalised LSTM of Ba et al. 2016 (`zoo.models.layernorm_lstm`,
where the equations are). State (h, c); unidirectional, and it takes `lengths` itself."""

from __future__ import annotations

from torch import nn

from zoo.models.cores import Core, Sizes, register
from zoo.models.layernorm_lstm import LayerNormLSTM


def build(sizes: Sizes) -> nn.Module:
    return LayerNormLSTM(sizes.input_size, sizes.hidden_size, sizes.num_layers, sizes.dropout)


CORE = register(Core(name="layernorm", build=build, packed=False, bidirectional=False,
                     bidirectional_instead="model=bilstm for a bidirectional LSTM"))
