"""Every gate of a recurrent core at every step, for every layer and direction.

`nn.LSTM` and `nn.GRU` return only h from their fused kernels, so their gates are recomputed
here from their own weights, one layer at a time, with PyTorch's documented equations (an
`nn.LSTMCell` loop gives the same c and h; tests/test_explain_gates.py). The hand-written
cores (`gates`, the Greff variants, `layernorm`) are asked step by step through their own
`project` and `step`, so what is traced is what they compute. Steps past a row's length are
zeros and `Trace.mask` says which steps are real.

Names: LSTM-family i (input gate), f (forget gate), g (candidate C~), o (output gate), c
(cell), h (hidden state, after the projection for `lstmp`); GRU r (reset), z (update), n
(candidate), h.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, ZooError
from zoo.models.gated_lstm import GatedLSTM
from zoo.models.handwritten_lstm import HandwrittenLSTM

LSTM_PARTS = ("i", "f", "g", "o", "c", "h")
GRU_PARTS = ("r", "z", "n", "h")
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "c": "cell",
              "h": "hidden state", "r": "reset gate", "z": "update gate", "n": "candidate"}
SIGMOID_GATES = ("i", "f", "o", "r", "z")  # the parts that saturate towards 0 and 1


@dataclass(frozen=True)
class LayerTrace:
    """One layer in one direction: each part (batch, time, width), zero past each row's end."""

    layer: int
    direction: str  # "forward" or "backward"
    parts: dict[str, Tensor]

    @property
    def label(self) -> str:
        return f"l{self.layer}" + ("" if self.direction == "forward" else "_reverse")


@dataclass(frozen=True)
class Trace:
    """Every layer's trace and which steps are real ((batch, time) booleans)."""

    layers: list[LayerTrace]
    mask: Tensor

    def layer(self, layer: int, direction: str = "forward") -> LayerTrace:
        return next(t for t in self.layers if t.layer == layer and t.direction == direction)


@dataclass(frozen=True)
class Clamp:
    """Hold one unit of c or h of one layer and direction at `value` at every step (the causal
    test of a cell): the step's later parts and every later step see the clamped value."""

    layer: int
    direction: str
    part: str  # "c" or "h"
    index: int
    value: float

    def on(self, layer: int, direction: str) -> Clamp | None:
        return self if (layer, direction) == (self.layer, self.direction) else None


def _held(clamp: Clamp | None, part: str, value: Tensor) -> Tensor:
    if clamp is None or clamp.part != part:
        return value
    value = value.clone()
    value[:, clamp.index] = clamp.value
    return value


def _mask(x: Tensor, lengths: Tensor | None) -> Tensor:
    steps = torch.arange(x.shape[1], device=x.device)
    if lengths is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    return steps[None, :] < lengths.to(x.device)[:, None]


def _reverse_rows(x: Tensor, lengths: Tensor) -> Tensor:
    """Each row's real steps in reverse order, padding left where it is (what a packed
    backward direction reads)."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    ends = lengths.to(x.device)[:, None]
    index = torch.where(steps < ends, ends - 1 - steps, steps)
    return x.gather(1, index[..., None].expand_as(x)) if x.dim() == 3 else x.gather(1, index)


def _run(step: Callable[[Tensor, tuple[Tensor, ...]], dict[str, Tensor]], x: Tensor, mask: Tensor,
         initial: tuple[Tensor, ...], carry: tuple[str, ...]) -> dict[str, Tensor]:
    """Step over time; a row's state stops changing past its end (as packing does) and its
    recorded parts there are zero."""
    state, records = initial, []
    for t in range(x.shape[1]):
        parts = step(x[:, t], state)
        keep = mask[:, t, None]
        state = tuple(torch.where(keep, parts[name], old) for name, old in zip(carry, state, strict=True))
        records.append({name: value * keep for name, value in parts.items()})
    return {name: torch.stack([r[name] for r in records], dim=1) for name in records[0]}


def _lstm_weights(module: nn.Module, layer: int, suffix: str) -> tuple[Tensor, ...]:
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(module, f"{name}_l{layer}{suffix}") for name in names)


def _lstm_direction(module: nn.Module, layer: int, suffix: str, x: Tensor, mask: Tensor,
                    clamp: Clamp | None) -> dict[str, Tensor]:
    w_ih, w_hh, b_ih, b_hh = _lstm_weights(module, layer, suffix)
    w_hr = getattr(module, f"weight_hr_l{layer}{suffix}", None)  # lstmp's projection
    projected = nn.functional.linear(x, w_ih, b_ih + b_hh)
    cell_width = w_hh.shape[0] // 4

    def step(z_x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        h, c = state
        i, f, g, o = (z_x + h @ w_hh.t()).chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = _held(clamp, "c", f * c + i * g)
        h = o * torch.tanh(c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": _held(clamp, "h", h if w_hr is None else h @ w_hr.t())}

    zeros = x.new_zeros(x.shape[0], w_hh.shape[1]), x.new_zeros(x.shape[0], cell_width)
    return _run(step, projected, mask, zeros, ("h", "c"))


def _gru_direction(module: nn.Module, layer: int, suffix: str, x: Tensor, mask: Tensor,
                   clamp: Clamp | None) -> dict[str, Tensor]:
    w_ih, w_hh, b_ih, b_hh = _lstm_weights(module, layer, suffix)
    projected = nn.functional.linear(x, w_ih, b_ih)

    def step(z_x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        (h,) = state
        x_r, x_z, x_n = z_x.chunk(3, dim=1)
        h_r, h_z, h_n = nn.functional.linear(h, w_hh, b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return {"r": r, "z": z, "n": n, "h": _held(clamp, "h", (1 - z) * n + z * h)}

    return _run(step, projected, mask, (x.new_zeros(x.shape[0], w_hh.shape[1]),), ("h",))


def _fused(module: nn.LSTM | nn.GRU | HandwrittenLSTM, x: Tensor, mask: Tensor, lengths: Tensor | None,
           direction_of: Callable[..., dict[str, Tensor]], clamp: Clamp | None) -> list[LayerTrace]:
    """Layer by layer, both directions where the module has them; the next layer reads the
    directions' h side by side, as the fused kernel does (no dropout: evaluation)."""
    backwards = getattr(module, "bidirectional", False)
    traces: list[LayerTrace] = []
    for layer in range(module.num_layers):
        forward = direction_of(module, layer, "", x, mask, clamp and clamp.on(layer, "forward"))
        traces.append(LayerTrace(layer, "forward", forward))
        outputs = [forward["h"]]
        if backwards:
            lengths_ = lengths if lengths is not None else mask.sum(1)
            backward = direction_of(module, layer, "_reverse", _reverse_rows(x, lengths_), mask,
                                    clamp and clamp.on(layer, "backward"))
            backward = {name: _reverse_rows(value, lengths_) for name, value in backward.items()}
            traces.append(LayerTrace(layer, "backward", backward))
            outputs.append(backward["h"])
        x = torch.cat(outputs, dim=-1)
    return traces


def _gated(module: GatedLSTM, x: Tensor, mask: Tensor, clamp: Clamp | None) -> list[LayerTrace]:
    """The hand-written Greff cores (and `layernorm`), through their own `project` and `step`;
    a gate switched off is reported as the constant it is (1, or 1 - f for CIFG's i)."""
    traces = []
    for layer in range(module.num_layers):
        held = clamp and clamp.on(layer, "forward")

        def step(projected: Tensor, state: tuple[Tensor, ...], layer: int = layer,
                 held: Clamp | None = held) -> dict[str, Tensor]:
            out = module.step(layer, projected, state)
            parts = {name: torch.as_tensor(getattr(out, name)).to(out.c).expand_as(out.c) for name in LSTM_PARTS}
            if held is not None and held.part == "c":  # h follows the held cell, as the cell computes it
                parts["c"] = _held(held, "c", parts["c"])
                squashed = torch.tanh(parts["c"]) if module.switches.output_activation else parts["c"]
                parts["h"] = parts["o"] * squashed
            parts["h"] = _held(held, "h", parts["h"])
            return parts | ({"a": out.a} if out.a is not None else {})

        initial = tuple(x.new_zeros(x.shape[0], width) for width in module.state_widths())
        carry = ("h", "c", "a")[: len(initial)]
        parts = _run(step, module.project(layer, x), mask, initial, carry)
        parts.pop("a", None)
        traces.append(LayerTrace(layer, "forward", parts))
        x = parts["h"]
    return traces


def core_module(rnn: nn.Module) -> nn.Module:
    """The recurrent module inside an encoder's (possibly regularised) `rnn`."""
    for module in rnn.modules():
        if isinstance(module, nn.LSTM | nn.GRU | HandwrittenLSTM | GatedLSTM):
            return module
    raise ConfigError(f"{type(rnn).__name__} has no gates to trace: gate traces need a recurrent core "
                      "(lstm, bilstm, gru, lstmp, gates, layernorm or a Greff variant)")


@torch.no_grad()
def trace_gates(rnn: nn.Module, x: Tensor, lengths: Tensor | None = None, clamp: Clamp | None = None) -> Trace:
    """Every part of every layer of the recurrent module `rnn` over the embedded input `x`
    (batch, time, features), each row `lengths[b]` steps long (all of it when None); with
    `clamp`, one unit held at a value throughout."""
    module, mask = core_module(rnn), _mask(x, lengths)
    if clamp is not None and clamp.part == "c" and isinstance(module, nn.GRU):
        raise ZooError("a GRU has no cell state c; clamp a unit of h")
    if isinstance(module, GatedLSTM):
        layers = _gated(module, x, mask, clamp)
    elif isinstance(module, nn.GRU):
        layers = _fused(module, x, mask, lengths, _gru_direction, clamp)
    else:
        layers = _fused(module, x, mask, lengths, _lstm_direction, clamp)
    return Trace(layers, mask)


def top_outputs(trace: Trace) -> Tensor:
    """The top layer's h, both directions side by side: what the encoder outputs."""
    top = max(t.layer for t in trace.layers)
    return torch.cat([t.parts["h"] for t in trace.layers if t.layer == top], dim=-1)
