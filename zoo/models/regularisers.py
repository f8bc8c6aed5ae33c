"""Two regularisers of AWD-LSTM (Merity, Keskar and Socher 2017, "Regularizing and Optimizing
LSTM Language Models"), applied from outside a core, so every registered core gets them
without a line of its own.

Weight drop (`model.weight_drop`, p): DropConnect (Wan et al. 2013) on the recurrent
matrices U = weight_hh_l{k} (and weight_hh_l{k}_reverse). Dropping h_{t-1} with a fresh mask
at every step disturbs what the recurrence carries, and a fused kernel (cuDNN) gives no
hook between steps; dropping entries of U instead regularises the recurrence and leaves
the kernel untouched. One mask per matrix per forward call (per batch), the same dropped
matrix at every time step:

    M ~ Bernoulli(1 - p), the shape of U          sampled once per forward call
    Ũ = M ⊙ U / (1 - p)                            training
    Ũ = U                                         evaluation (the expectation of the above)
    z_t = W x_t + Ũ h_{t-1} + b                    every step of the call

It is a `torch.nn.utils.parametrize` parametrization, so U stays the trained parameter (now
`parametrizations.weight_hh_l{k}.original` in the state dict) and `module.weight_hh_l{k}`
is the dropped matrix. `WeightDropped` evaluates it under `parametrize.cached()`, so a core
that reads U at every step (the hand-written ones) sees one mask per call, and `nn.LSTM` /
`nn.GRU`, which notice that their weight tensors changed (`_weights_have_changed`), run on
the dropped matrix.

Locked (variational) dropout (`model.locked_dropout=true`, Gal and Ghahramani 2016): the
dropout `model.dropout` between layers uses one mask per sequence, the same at every step,
instead of a fresh mask per step and unit:

    m ~ Bernoulli(1 - p), (batch, features)       sampled once per forward call
    x^(k+1)_t = m ⊙ h^(k)_t / (1 - p)              the same m for every t (identity in evaluation)

A core's own inter-layer dropout is per step, so the core is built as `num_layers`
single-layer cores with `LockedDropout` between them (`Stacked`); their final states are
concatenated layer by layer, the layout the multi-layer core returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.rnn import PackedSequence

from zoo.errors import ConfigError
from zoo.models.cores import Sizes
from zoo.models.state import State, map_state

RECURRENT = re.compile(r"weight_hh_l\d+(_reverse)?")  # the hidden-to-hidden matrices weight drop acts on


class DropConnect(nn.Module):
    """The parametrization U -> M ⊙ U / (1 - p) in training, U in evaluation."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, weight: Tensor) -> Tensor:
        if not self.training:
            return weight  # the parameter itself: nn.LSTM keeps its cached weights
        return nn.functional.dropout(weight, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class WeightDropped(nn.Module):
    """`module` with DropConnect on every recurrent matrix it holds (any depth of submodule);
    a training forward samples one mask per matrix."""

    def __init__(self, module: nn.Module, p: float) -> None:
        super().__init__()
        found = [(owner, name) for owner in module.modules()
                 for name, _ in owner.named_parameters(recurse=False) if RECURRENT.fullmatch(name)]
        if not found:
            raise ConfigError(f"model.weight_drop={p} needs recurrent matrices named weight_hh_l<k>; "
                              f"this core ({type(module).__name__}) has none: leave model.weight_drop=0")
        for owner, name in found:
            # unsafe: skip the check that evaluates the parametrization once (a dropout draw
            # would shift the random stream, so the same seed would initialise later layers differently)
            parametrize.register_parametrization(owner, name, DropConnect(p), unsafe=True)
        self.module = module

    def forward(self, *args: object) -> tuple[Tensor | PackedSequence, State]:
        if not self.training:
            return self.module(*args)
        with parametrize.cached():  # one dropped matrix for the whole call, however often it is read
            return self.module(*args)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all its time steps, on batch-first
    (batch, time, features) tensors or on a `PackedSequence`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def mask(self, like: Tensor, rows: int) -> Tensor:
        """(rows, features): Bernoulli(1 - p) / (1 - p)."""
        return like.new_empty(rows, like.shape[-1]).bernoulli_(1 - self.p) / (1 - self.p)

    def forward(self, x: Tensor | PackedSequence) -> Tensor | PackedSequence:
        if not self.training or self.p == 0:
            return x
        if isinstance(x, PackedSequence):
            # packed rows are step by step, the first batch_sizes[t] (sorted) sequences at step t
            sizes = x.batch_sizes
            grid = torch.arange(int(sizes[0])).expand(len(sizes), -1)
            sequence = grid[grid < sizes[:, None]].to(x.data.device)  # the sequence of each packed row
            return x._replace(data=x.data * self.mask(x.data, int(sizes[0]))[sequence])
        return x * self.mask(x, x.shape[0]).unsqueeze(1)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def layer_rows(state: State, layer: int, directions: int) -> State:
    """Layer `layer`'s part of a state whose tensors are (layers * directions, batch, ...)."""
    return map_state(lambda t: t[layer * directions:(layer + 1) * directions], state)


def concatenated(states: list[State]) -> State:
    """Per-layer states of one structure joined along dimension 0, tensor by tensor."""
    if isinstance(states[0], Tensor):
        return torch.cat(states)  # type: ignore[arg-type]
    return tuple(concatenated(list(parts)) for parts in zip(*states, strict=True))  # type: ignore[arg-type]


class Stacked(nn.Module):
    """Single-layer cores run one after the other with `LockedDropout` between them; called
    and returning like the multi-layer core (`rnn(x, state[, lengths])` -> outputs, state)."""

    def __init__(self, layers: list[nn.Module], dropout: float, directions: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.dropout = LockedDropout(dropout)
        self.directions = directions

    def forward(self, x: Tensor | PackedSequence, state: State | None = None,
                *rest: object) -> tuple[Tensor | PackedSequence, State]:
        finals = []
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            x, final = layer(x, None if state is None else layer_rows(state, k, self.directions), *rest)
            finals.append(final)
        return x, concatenated(finals)


def regularised(build: Callable[[Sizes], nn.Module], sizes: Sizes, weight_drop: float = 0.0,
                locked_dropout: bool = False) -> nn.Module:
    """The core `build` makes from `sizes`, with the regularisers asked for. With neither (or
    locked dropout where there is no inter-layer dropout) it is the core itself, unchanged."""
    rnn: nn.Module
    if locked_dropout and sizes.num_layers > 1 and sizes.dropout > 0:
        directions = 2 if sizes.bidirectional else 1
        width = (sizes.proj_size or sizes.hidden_size) * directions  # what one layer outputs
        rnn = Stacked([build(replace(sizes, input_size=sizes.input_size if k == 0 else width, num_layers=1,
                                     dropout=0.0)) for k in range(sizes.num_layers)], sizes.dropout, directions)
    else:
        rnn = build(sizes)
    return WeightDropped(rnn, weight_drop) if weight_drop > 0 else rnn
