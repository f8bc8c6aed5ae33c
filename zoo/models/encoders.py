"""Every encoder by name, recurrent core or baseline: the one lookup that specs, networks
and task kinds ask, so none of them switches on a name.

Both descriptors (`Core`, `Baseline`) answer the same questions: is it recurrent, can it
generate (read left to right), which pooling it defaults to and which it allows, how deep it
may be, and `check(spec)`, which refuses options it does not take."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from zoo.errors import ConfigError
from zoo.models import baselines, cores

if TYPE_CHECKING:
    from zoo.models.spec import EncoderSpec

Descriptor = cores.Core | baselines.Baseline


def describe(name: str) -> Descriptor:
    """The encoder called `name`, or one error listing every core and baseline."""
    if cores.known(name):
        return cores.core(name)
    if baselines.known(name):
        return baselines.baseline(name)
    raise ConfigError(f"model.encoder={name!r} is not a known encoder; choose a recurrent core "
                      f"({', '.join(sorted(cores.all_cores()))}) or a baseline "
                      f"({', '.join(sorted(baselines.all_baselines()))})")


def all_encoders() -> dict[str, Descriptor]:
    """Every registered encoder by name, cores first."""
    return {**cores.all_cores(), **baselines.all_baselines()}


def build_encoder(spec: EncoderSpec, vocab_size: int, pad_id: int | None, causal: bool) -> nn.Module:
    """The encoder module `spec` names. `causal`: it must read left to right (a language model)."""
    descriptor = describe(spec.encoder)
    if isinstance(descriptor, baselines.Baseline):
        return descriptor.build(spec, vocab_size, pad_id, causal)
    from zoo.models.encoder import RecurrentEncoder  # it imports the spec, which imports this module

    return RecurrentEncoder(spec, vocab_size, pad_id)
