"""`lstm`: torch.nn.LSTM (cuDNN on a GPU). State (h, c), each (layers * directions, batch, H).

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)
"""

from __future__ import annotations

from torch import nn

from zoo.models.cores import Core, Sizes, register


def build(sizes: Sizes) -> nn.Module:
    return nn.LSTM(sizes.input_size, sizes.hidden_size, sizes.num_layers, batch_first=True,
                   dropout=sizes.dropout, bidirectional=sizes.bidirectional)


CORE = register(Core(name="lstm", build=build))
