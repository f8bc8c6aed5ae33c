"""One hand-written LSTM whose parts can be switched off: the ablations of Greff et al.,
"LSTM: A Search Space Odyssey" (2017), as one module, so that variants differ only in
their switches and a study compares like with like.

For each layer and time step t (peepholes p_*, elementwise; gate recurrence R, FGR only):

    a_{t-1} = [i_{t-1}, f_{t-1}, o_{t-1}]              previous gates (those present)
    i_t = σ(W_i x_t + U_i h_{t-1} + b_i + p_i * c_{t-1} + R_i a_{t-1})   input gate
    f_t = σ(W_f x_t + U_f h_{t-1} + b_f + p_f * c_{t-1} + R_f a_{t-1})   forget gate
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)                              candidate
    c_t = f_t * c_{t-1} + i_t * g_t                                     cell
    o_t = σ(W_o x_t + U_o h_{t-1} + b_o + p_o * c_t + R_o a_{t-1})       output gate
    h_t = o_t * tanh(c_t)                                               hidden state

Switches: `peepholes` off drops p_*; a gate switched off is fixed to 1 (NIG, NFG, NOG);
`input_activation` off makes g_t linear (NIAF), `output_activation` off gives
h_t = o_t * c_t (NOAF); `coupled` computes i_t = 1 - f_t (CIFG); `full_recurrence` adds
R a_{t-1} (FGR, whose state is (h, c, a) with a_0 = 0). With peepholes off and nothing
else changed this is `torch.nn.LSTM`: the parameters weight_ih_l{k}, weight_hh_l{k},
bias_ih_l{k}, bias_hh_l{k} hold the blocks of the computed pre-activations in nn.LSTM's
order (i, f, g, o), so its state dict loads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional

from zoo.errors import ConfigError
from zoo.models.handwritten_lstm import init_like_lstm
from zoo.models.recurrence import Recurrent, pre_activation, unroll

Carried = tuple[Tensor, ...]  # (h, c) or (h, c, a) of one layer


@dataclass(frozen=True)
class Switches:
    """Which parts of the LSTM are there; the default is Greff's vanilla LSTM (V)."""

    peepholes: bool = True
    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    input_activation: bool = True
    output_activation: bool = True
    coupled: bool = False  # CIFG: i = 1 - f
    full_recurrence: bool = False  # FGR: gates see all gates of the previous step

    def __post_init__(self) -> None:
        if self.coupled and not (self.forget_gate and self.input_gate):
            raise ConfigError("coupled input and forget gates (i = 1 - f) need both gates: "
                              "drop `coupled`, or keep input_gate and forget_gate")
        if (self.peepholes or self.full_recurrence) and not self.sigmoid_gates:
            raise ConfigError("peepholes and full gate recurrence feed gates, and this cell has "
                              "none: switch one gate on, or peepholes and full_recurrence off")

    @property
    def sigmoid_gates(self) -> tuple[str, ...]:
        """The gates computed by a sigmoid, in nn.LSTM's order."""
        present = {"i": self.input_gate and not self.coupled, "f": self.forget_gate, "o": self.output_gate}
        return tuple(name for name, on in present.items() if on)

    @property
    def blocks(self) -> tuple[str, ...]:
        """The pre-activation blocks of weight_ih/weight_hh: the sigmoid gates and g."""
        return tuple(name for name in "ifgo" if name == "g" or name in self.sigmoid_gates)


@dataclass
class Step:
    """One step of one layer: every gate as used (1.0 where switched off) and the new state."""

    i: Tensor | float
    f: Tensor | float
    g: Tensor
    o: Tensor | float
    c: Tensor
    h: Tensor
    a: Tensor | None  # the sigmoid gates side by side (FGR's recurrent input)

    def carried(self) -> Carried:
        return (self.h, self.c) if self.a is None else (self.h, self.c, self.a)


class GatedLSTM(nn.Module):
    """Multi-layer unidirectional LSTM with switches, batch first, one Python step per token
    (`zoo.models.recurrence.unroll`: finished rows drop out of the batch, as in packing)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 switches: Switches = Switches()) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dropout, self.switches = dropout, switches
        rows, gates = len(switches.blocks) * hidden_size, len(switches.sigmoid_gates) * hidden_size
        for layer in range(num_layers):
            shapes = {"weight_ih": (rows, input_size if layer == 0 else hidden_size),
                      "weight_hh": (rows, hidden_size), "bias_ih": (rows,), "bias_hh": (rows,)}
            if switches.peepholes:
                shapes["peephole"] = (len(switches.sigmoid_gates), hidden_size)
            if switches.full_recurrence:
                shapes["weight_gg"] = (gates, gates)
            for name, shape in shapes.items():
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_like_lstm(self, self.hidden_size)

    def state_widths(self) -> tuple[int, ...]:
        """Widths of h, c and (FGR) a, the previous gates side by side."""
        gates = (len(self.switches.sigmoid_gates) * self.hidden_size,) if self.switches.full_recurrence else ()
        return (self.hidden_size, self.hidden_size, *gates)

    def _param(self, name: str, layer: int) -> Tensor:
        return getattr(self, f"{name}_l{layer}")

    def project(self, layer: int, x: Tensor) -> Tensor:
        """W x + b_ih + b_hh for all steps at once (the part of the gates that needs no recurrence)."""
        bias = self._param("bias_ih", layer) + self._param("bias_hh", layer)
        return functional.linear(x, self._param("weight_ih", layer), bias)

    def recurrent_weights(self, layer: int) -> tuple[Recurrent, ...]:
        """What each step multiplies its state by, as `unroll` takes it: U h_{t-1} (weight_hh,
        transposed) and, for FGR, R a_{t-1} (`gate_recurrence_t`); one addmm each."""
        hidden = ((0, self._param("weight_hh", layer).t()),)
        return (*hidden, (2, self.gate_recurrence_t(layer))) if self.switches.full_recurrence else hidden

    def step(self, layer: int, projected: Tensor, carried: Carried) -> Step:
        """One step from `project(layer, x)[:, t]` and the layer's previous (h, c[, a]): what
        `forward` computes at each step (there with the recurrent weights' gradients deferred)."""
        return self.cell(layer, pre_activation(projected, carried, self.recurrent_weights(layer)), carried)

    def cell(self, layer: int, z: Tensor, carried: Carried) -> Step:
        """The gates and the new state from the step's pre-activation blocks `z` (W x + b + U h
        [+ R a]) and the previous (h, c[, a]): everything but the matmuls."""
        s, c = self.switches, carried[1]
        pre = dict(zip(s.blocks, z.chunk(len(s.blocks), dim=1), strict=True))
        peep = dict(zip(s.sigmoid_gates, self._param("peephole", layer), strict=True)) if s.peepholes else {}

        def gate(name: str, cell: Tensor) -> Tensor:
            """σ(pre-activation [+ p * cell]), the peephole term fused into one addcmul."""
            return torch.sigmoid(torch.addcmul(pre[name], peep[name], cell) if name in peep else pre[name])

        f = gate("f", c) if s.forget_gate else 1.0
        i: Tensor | float = 1.0
        if s.coupled:
            i = 1.0 - f
        elif s.input_gate:
            i = gate("i", c)
        g = torch.tanh(pre["g"]) if s.input_activation else pre["g"]
        c = f * c + i * g
        o = gate("o", c) if s.output_gate else 1.0
        h = o * (torch.tanh(c) if s.output_activation else c)
        used = {"i": i, "f": f, "o": o}
        a = torch.cat([used[name] for name in s.sigmoid_gates], dim=1) if s.full_recurrence else None
        return Step(i=i, f=f, g=g, o=o, c=c, h=h, a=a)

    def gate_recurrence_t(self, layer: int) -> Tensor:
        """R laid out over all pre-activation blocks (zero rows for g), transposed, so R a adds
        in one addmm; built once per sequence by `forward` (per step it cost FGR a third of
        its speed)."""
        s, rows = self.switches, self._param("weight_gg", layer).chunk(len(self.switches.sigmoid_gates), dim=0)
        by_gate = dict(zip(s.sigmoid_gates, rows, strict=True))
        zeros = rows[0].new_zeros(self.hidden_size, rows[0].shape[1])
        return torch.cat([by_gate.get(name, zeros) for name in s.blocks]).t()

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Run over `x` (batch, time, input); with `lengths`, each row stops at its end.

        Returns the top layer's outputs (zero past each row's length) and the final state of
        every layer, (h, c) or (h, c, a), each (layers, batch, width)."""
        if state is None:
            state = tuple(x.new_zeros(self.num_layers, x.shape[0], width) for width in self.state_widths())
        finals: list[Carried] = []
        layer_input = x
        for layer in range(self.num_layers):
            layer_input, carried = unroll(partial(self._carried_cell, layer), self.project(layer, layer_input),
                                          tuple(part[layer] for part in state), lengths,
                                          self.recurrent_weights(layer))
            finals.append(carried)
            if layer < self.num_layers - 1:
                layer_input = functional.dropout(layer_input, self.dropout, self.training)
        return layer_input, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    def _carried_cell(self, layer: int, z: Tensor, carried: Carried) -> Carried:
        return self.cell(layer, z, carried).carried()

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout}, {self.switches}")
