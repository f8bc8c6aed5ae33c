"""`lstmp`: torch.nn.LSTM with a projection (Sak et al. 2014, "Long Short-Term Memory Based
Recurrent Neural Network Architectures for Large Vocabulary Speech Recognition"). The cell
keeps hidden_size units; h is projected down to proj_size (P < H) before it is output and
fed back, which cuts the recurrent matrices from 4H x H to 4H x P.

    i, f, g, o, c_t as in `lstm`, with W_h* of shape (H, P)
    h_t = W_hr (o_t * tanh(c_t))             W_hr: (P, H)

State (h, c): h (layers * directions, batch, P), c (layers * directions, batch, H).
"""

from __future__ import annotations

from torch import nn

from zoo.models.cores import Core, Sizes, register


def build(sizes: Sizes) -> nn.Module:
    return nn.LSTM(sizes.input_size, sizes.hidden_size, sizes.num_layers, batch_first=True,
                   dropout=sizes.dropout, bidirectional=sizes.bidirectional, proj_size=sizes.proj_size)


CORE = register(Core(name="lstmp", build=build, projects=True))
