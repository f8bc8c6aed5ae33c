"""Layer-normalised LSTM (Ba, Kiros and Hinton 2016, "Layer Normalization", sec. 3.1 / A):
the input and recurrent pre-activations are normalised separately, per gate block, and the
cell is normalised before the output tanh, so the dynamics do not depend on the scale of
the weights or of the summed inputs.

For each layer and time step t, with LN(z; α, β) = α * (z - mean(z)) / sqrt(var(z) + ε) + β
over the H units of one block, and [i f g o] the four blocks of a 4H vector:

    [i f g o]_pre = LN(W x_t; α_x, β_x) + LN(U h_{t-1}; α_h, β_h) + b     per block
    i, f, o = σ(i_pre), σ(f_pre), σ(o_pre);   g = tanh(g_pre)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(LN(c_t; α_c, β_c))

The weights are those of `GatedLSTM` without peepholes (nn.LSTM's names and order, b split
into bias_ih + bias_hh); the gains α start at 1 and the shifts β at 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from zoo.models.gated_lstm import Carried, GatedLSTM, Step, Switches
from zoo.models.recurrence import Recurrent

EPS = 1e-5


def block_norm(z: Tensor, gain: Tensor, shift: Tensor) -> Tensor:
    """LN of each H-wide block of `z` (..., blocks * H), gain and shift (blocks, H)."""
    blocks = z.unflatten(-1, gain.shape)
    normed = functional.layer_norm(blocks, blocks.shape[-1:], eps=EPS)
    return torch.addcmul(shift, normed, gain).flatten(-2)  # shift + normed * gain in one op


class LayerNormLSTM(GatedLSTM):
    """Unidirectional multi-layer LN-LSTM, batch first; `GatedLSTM`'s loop and padding."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers, dropout, Switches(peepholes=False))
        for layer in range(num_layers):
            for name, blocks in (("ln_ih", 4), ("ln_hh", 4), ("ln_c", 1)):
                self.register_parameter(f"{name}_gain_l{layer}", nn.Parameter(torch.ones(blocks, hidden_size)))
                self.register_parameter(f"{name}_shift_l{layer}", nn.Parameter(torch.zeros(blocks, hidden_size)))

    def reset_parameters(self) -> None:
        """nn.LSTM's uniform init for the weights, then gains 1 and shifts 0 (once they exist)."""
        super().reset_parameters()
        for name, parameter in self.named_parameters():
            if name.startswith("ln_"):
                nn.init.constant_(parameter, 1.0 if "_gain_" in name else 0.0)

    def _norm(self, name: str, layer: int, z: Tensor) -> Tensor:
        return block_norm(z, self._param(f"{name}_gain", layer), self._param(f"{name}_shift", layer))

    def project(self, layer: int, x: Tensor) -> Tensor:
        """LN(W x) + b_ih + b_hh for all steps at once (b is outside both norms, so it folds in here)."""
        z = functional.linear(x, self._param("weight_ih", layer))
        return self._norm("ln_ih", layer, z) + (self._param("bias_ih", layer) + self._param("bias_hh", layer))

    def recurrent_weights(self, layer: int) -> tuple[Recurrent, ...]:
        """None for `unroll` to add: U h_{t-1} is normalised before it joins the sum (`cell`)."""
        return ()

    def cell(self, layer: int, z: Tensor, carried: Carried) -> Step:
        """As `GatedLSTM.cell`, from `z` = LN(W x_t) + b: adds LN(U h_{t-1}) itself."""
        h, c = carried[0], carried[1]
        z = z + self._norm("ln_hh", layer, h.matmul(self._param("weight_hh", layer).t()))
        gates = torch.sigmoid(z)  # i, f and o in one op (the g block of it is unused)
        i, f, _, o = gates.chunk(4, dim=1)
        g = torch.tanh(z[:, 2 * self.hidden_size:3 * self.hidden_size])
        c = f * c + i * g
        normed_c = functional.layer_norm(c, c.shape[-1:], self._param("ln_c_gain", layer)[0],
                                         self._param("ln_c_shift", layer)[0], eps=EPS)
        h = o * torch.tanh(normed_c)
        return Step(i=i, f=f, g=g, o=o, c=c, h=h, a=None)
