"""`gru`: torch.nn.GRU (Cho et al. 2014), the usual baseline against an LSTM. Its state is
one tensor h, (layers * directions, batch, H); there is no cell.

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)           reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)           update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}
"""

from __future__ import annotations

from torch import nn

from zoo.models.cores import Core, Sizes, register, whole


def build(sizes: Sizes) -> nn.Module:
    return nn.GRU(sizes.input_size, sizes.hidden_size, sizes.num_layers, batch_first=True,
                  dropout=sizes.dropout, bidirectional=sizes.bidirectional)


CORE = register(Core(name="gru", build=build, hidden=whole))
