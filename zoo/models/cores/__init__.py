"""Recurrent cores as plug-ins: one module of this package per core calls `register`, and
`conf/model/<name>.yaml` picks it with `encoder: <name>`. Modules are found by importing
the package, so adding a core is its module and its YAML, and no other edit.

A core builds a batch-first module from plain sizes (what `EncoderSpec` stores, so a registered
bundle rebuilds it), says whether it runs backwards too, and which tensor of its state is
the hidden state that "final hidden" (`RecurrentEncoder.last_hidden`) reads. Non-recurrent
encoders (`cnn`, `bow`, `transformer`) are a sibling registry, `zoo.models.baselines`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.models.options import CORE_OPTIONS, refuse_unused
from zoo.models.pooling import POOLINGS
from zoo.models.state import State
from zoo.plugins import Plugins


@dataclass(frozen=True)
class Sizes:
    """What every core is built from."""

    input_size: int
    hidden_size: int
    num_layers: int
    dropout: float  # between layers
    bidirectional: bool
    proj_size: int = 0  # width of h after a projection; only a core with `projects` gets one


def first(state: State) -> Tensor:
    """The hidden state of a `(h, ...)` tuple, as `nn.LSTM` returns it."""
    assert isinstance(state, tuple)
    return first(state[0]) if isinstance(state[0], tuple) else state[0]


def whole(state: State) -> Tensor:
    """A state that is the hidden state itself, as `nn.GRU` returns it."""
    assert isinstance(state, Tensor)
    return state


@dataclass(frozen=True)
class Core:
    """One recurrent core. `packed`: it runs on a `PackedSequence` (the `nn.RNN` family);
    otherwise it is called as `rnn(x, state, lengths)` and handles padding itself."""

    name: str
    build: Callable[[Sizes], nn.Module]
    hidden: Callable[[State], Tensor] = first  # (layers * directions, batch, hidden_size)
    packed: bool = True
    bidirectional: bool = True
    bidirectional_instead: str = ""  # what to use instead, said when bidirectional is refused
    projects: bool = False  # it needs model.proj_size (lstmp); every other core refuses one

    # what every encoder descriptor answers (zoo.models.encoders); a core answers alike for all cores
    recurrent = True  # it has a state to carry across windows and a final hidden state
    generates = True  # it can be a language model (it reads left to right)
    min_layers = 1
    default_pooling = "last"  # the final hidden state
    poolings = POOLINGS

    @property
    def options(self) -> tuple[str, ...]:
        """The `model.*` options a core takes (lstmp alone needs proj_size)."""
        return tuple(CORE_OPTIONS)

    def check(self, spec: Any) -> None:
        """Refuse the options of `spec` this core cannot build (the encoder spec calls this)."""
        refuse_unused(spec, self.name, CORE_OPTIONS, {"kernel_sizes": "a CNN's filter widths",
                                                      "num_heads": "a transformer's attention heads"})
        self.check_bidirectional(spec.bidirectional)
        self.check_projection(spec.proj_size, spec.hidden_size)

    def check_window(self, spec: Any, window: int | None, key: str) -> None:
        """A recurrent core reads any length."""

    def check_bidirectional(self, wanted: bool) -> None:
        if wanted and not self.bidirectional:
            raise ConfigError(f"model.encoder={self.name} is unidirectional; use {self.bidirectional_instead}")

    def check_projection(self, proj_size: object, hidden_size: int) -> None:
        """A projection only where the core has one, and narrower than the cell."""
        if not self.projects:
            if proj_size != 0:
                raise ConfigError(f"model.proj_size={proj_size!r} needs a core with a projection "
                                  f"(model=lstmp); model.encoder={self.name} has none, so leave it 0")
            return
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or not 1 <= proj_size < hidden_size:
            raise ConfigError(f"model.proj_size={proj_size!r} is invalid for model.encoder={self.name}: "
                              f"it must be an integer in [1, model.hidden_size={hidden_size})")


_CORES: Plugins[Core] = Plugins("recurrent core", __name__, "model.encoder={name!r} is not a known recurrent "
                               "core; choose one of {names}", ConfigError)


def register(new: Core) -> Core:
    """Add a core; a second core under a taken name is a mistake, not an override."""
    return _CORES.add(new.name, new)


all_cores = _CORES.all  # every registered core by name
core = _CORES.find  # the core called `name`, or a ConfigError listing the cores there are
known = _CORES.known  # whether `name` is a core (no error)
