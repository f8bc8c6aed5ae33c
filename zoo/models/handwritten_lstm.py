"""The classic LSTM written out gate by gate; a drop-in for `nn.LSTM(batch_first=True)`.

For each layer and time step t, with [h_{t-1}, x_t] the previous hidden state and the
input side by side:

    f_t  = σ(W_f·[h_{t-1}, x_t] + b_f)        forget gate
    i_t  = σ(W_i·[h_{t-1}, x_t] + b_i)        input gate
    C̃_t  = tanh(W_C·[h_{t-1}, x_t] + b_C)     candidate cell
    C_t  = f_t * C_{t-1} + i_t * C̃_t          cell state
    o_t  = σ(W_o·[h_{t-1}, x_t] + b_o)        output gate
    h_t  = o_t * tanh(C_t)                    hidden state

W_g·[h, x] is stored as its two blocks W_hg·h + W_ig·x, and b_g as b_ig + b_hg, with the
same parameter names, shapes and gate order (i, f, g, o) as `torch.nn.LSTM`, so state dicts
move between the two unchanged. That is what lets a test prove this module equals
`nn.LSTM`, and lets a model trained with either be served with the other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from zoo.models.recurrence import unroll

State = tuple[Tensor, Tensor]


def init_like_lstm(module: nn.Module, hidden_size: int) -> None:
    """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter: nn.LSTM's initialisation."""
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


def lstm_cell(z: Tensor, carried: tuple[Tensor, ...]) -> State:
    """One time step, the equations above, from its four pre-activations z = [i f g o]
    (W_i·x_t + W_h·h_{t-1} + b, which `unroll` adds up) and (h_{t-1}, C_{t-1})."""
    c = carried[1]
    z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
    f_t = torch.sigmoid(z_f)
    i_t = torch.sigmoid(z_i)
    c_tilde = torch.tanh(z_g)
    c_t = f_t * c + i_t * c_tilde
    o_t = torch.sigmoid(z_o)
    h_t = o_t * torch.tanh(c_t)
    return h_t, c_t


class HandwrittenLSTM(nn.Module):
    """Multi-layer unidirectional LSTM over batch-first input, one Python step per token."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size
            gates = 4 * hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(gates, layer_input)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(gates, hidden_size)))
            self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(gates)))
            self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(gates)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_like_lstm(self, self.hidden_size)

    def _layer(self, layer: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return (
            getattr(self, f"weight_ih_l{layer}"),
            getattr(self, f"weight_hh_l{layer}"),
            getattr(self, f"bias_ih_l{layer}"),
            getattr(self, f"bias_hh_l{layer}"),
        )

    def forward(
        self, x: Tensor, state: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Run over `x` (batch, time, input); with `lengths`, each row stops at its end.

        Returns the top layer's outputs (zero past each row's length, as
        `pad_packed_sequence` gives) and the final (h, c) of every layer, taken at each
        row's last real step.
        """
        batch = x.shape[0]
        if state is None:
            zeros = x.new_zeros(self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros)
        h_last, c_last = [], []
        layer_input = x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer(layer)
            # W_i·x_t + b_ig + b_hg for all t at once; unroll adds W_h·h_{t-1} at each step (with
            # W_h's gradient taken once per sequence) and calls lstm_cell
            input_part = torch.nn.functional.linear(layer_input, w_ih, b_ih + b_hh)
            layer_output, (h, c) = unroll(lstm_cell, input_part, (state[0][layer], state[1][layer]),
                                          lengths, recurrent=((0, w_hh.t()),))
            h_last.append(h)
            c_last.append(c)
            is_last = layer == self.num_layers - 1
            if not is_last and self.dropout > 0:
                layer_output = nn.functional.dropout(layer_output, self.dropout, self.training)
            layer_input = layer_output
        return layer_input, (torch.stack(h_last), torch.stack(c_last))

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"dropout={self.dropout}, batch_first=True"
        )
