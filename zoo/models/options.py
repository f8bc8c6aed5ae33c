"""Which `model.*` options an encoder takes, and the one error for an option it does not.

Every encoder shares one flat spec (`EncoderSpec`), so `model.kernel_sizes` reaches an LSTM
and `model.bidirectional` a CNN unless someone says no. Each encoder's descriptor says which
options it takes; any other option set away from its "not used" default is refused here,
with one line naming what the encoder takes instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from zoo.errors import ConfigError

# what each option of a recurrent core means (every core takes these; lstmp alone needs proj_size)
CORE_OPTIONS: Mapping[str, str] = {
    "num_layers": "depth", "hidden_size": "width", "embedding_dim": "token embedding size",
    "dropout": "between layers", "embedding_dropout": "on the embeddings", "output_dropout": "on what the head reads",
    "bidirectional": "run both ways", "proj_size": "projection of h (lstmp)",
    "weight_drop": "DropConnect on weight_hh", "locked_dropout": "one dropout mask per sequence",
}


def shown(value: Any) -> str:
    """A value as the command line writes it (`true`, `[3, 4]`, `0.3`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def refuse_unused(spec: Any, name: str, takes: Mapping[str, str], hints: Mapping[str, str] | None = None) -> None:
    """Refuse any option of `spec` that `takes` does not list and that is set away from its
    default; `hints` say, per option, what that option would mean or what to use instead."""
    for field in fields(spec):
        if field.name == "encoder" or field.name in takes:
            continue
        value = getattr(spec, field.name)
        if value == field.default:
            continue
        hint = (hints or {}).get(field.name)
        options = ", ".join(f"model.{key} ({meaning})" for key, meaning in takes.items())
        raise ConfigError(f"model.{field.name}={shown(value)} means nothing to model.encoder={name}"
                          f"{f' ({hint})' if hint else ''}; leave it at {shown(field.default)}. "
                          f"It takes {options}")
