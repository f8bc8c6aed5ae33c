"""Non-recurrent encoders as plug-ins, the sibling of `zoo.models.cores`: one module of this
package per baseline calls `register`, and `conf/model/<name>.yaml` picks it with
`encoder: <name>`. They answer "was an LSTM the right choice?": a CNN (Kim 2014), a bag of
n-grams (fastText/DAN: does word order matter at all?) and a small transformer.

A baseline builds its whole encoder (embedding included: a bag of n-grams hashes token
pairs, a transformer adds positions) from the same `EncoderSpec` every core is built
from, and says which options it takes; every other option is refused by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import nn

from zoo.errors import ConfigError
from zoo.models.options import refuse_unused
from zoo.plugins import Plugins

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec

# a baseline's per-step outputs have no final state, so `last` pooling has nothing to read
STEP_POOLINGS = ("mean", "max", "attention")


@dataclass(frozen=True)
class Baseline:
    """One non-recurrent encoder. `build(spec, vocab_size, pad_id, causal)` returns a module
    called as `encoder(tokens, lengths, state)` -> (per-step outputs, None), with `step_size`
    (width of each step's output), `output_size` (width after `post_pool`) and `post_pool`
    (what follows pooling: the dropout, and a DAN's feed-forward layers)."""

    name: str
    build: Callable[[EncoderSpec, int, int | None, bool], nn.Module]
    takes: Mapping[str, str]  # option -> what it means for this encoder
    hints: Mapping[str, str] = field(default_factory=dict)  # refused option -> what to use instead
    default_pooling: str = "mean"
    generates: bool = False  # whether it can be a (causal) language model
    min_layers: int = 1
    validate: Callable[[EncoderSpec], None] | None = None  # its own value checks

    recurrent = False
    poolings = STEP_POOLINGS

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self.takes)

    def check(self, spec: EncoderSpec) -> None:
        refuse_unused(spec, self.name, self.takes, self.hints)
        if self.validate is not None:
            self.validate(spec)

    def check_window(self, spec: EncoderSpec, window: int | None, key: str) -> None:
        """A transformer is built for `model.context` positions; a longer window is refused."""
        if "context" not in self.takes:
            return
        if window is None:
            raise ConfigError(f"{key} is unset, so inputs of any length would reach model.encoder={self.name}, "
                              f"built for {spec.context} positions; set {key} <= {spec.context}")
        if window > spec.context:
            raise ConfigError(f"{key}={window} is longer than the {spec.context} positions model.encoder="
                              f"{self.name} is built for; set model.context >= {window} (or {key} <= "
                              f"{spec.context})")


def ordered(value: Any, key: str, name: str) -> None:
    """A whole number >= 1 for `model.<key>` of baseline `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"model.{key}={value!r} is invalid for model.encoder={name}: it must be a whole "
                          "number >= 1")


_BASELINES: Plugins[Baseline] = Plugins("baseline encoder", __name__, "model.encoder={name!r} is not a known "
                                        "baseline; choose one of {names}", ConfigError)


def register(new: Baseline) -> Baseline:
    """Add a baseline; a second one under a taken name is a mistake, not an override."""
    return _BASELINES.add(new.name, new)


all_baselines = _BASELINES.all  # every registered baseline by name
baseline = _BASELINES.find
known = _BASELINES.known
