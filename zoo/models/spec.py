"""The LSTM hyperparameters shared by every variant, validated before any data loads."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

from zoo.errors import ConfigError
from zoo.models.cores import core


@dataclass(frozen=True)
class LSTMSpec:
    """Depth, width and regularisation of an LSTM encoder.

    `variant` names the recurrent core, one of those registered in `zoo.models.cores`
    (`lstm` is `torch.nn.LSTM`, `seed` the gate equations written out by hand, `gru` ...).
    """

    variant: str = "lstm"
    num_layers: int = 1
    hidden_size: int = 128
    embedding_dim: int = 128
    dropout: float = 0.0
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0  # on the top layer's outputs the head reads (see networks.py)
    bidirectional: bool = False
    proj_size: int = 0  # width of h after a projection (lstmp only); 0 = none
    weight_drop: float = 0.0  # DropConnect on the recurrent matrices weight_hh (zoo/models/regularisers.py)
    locked_dropout: bool = False  # `dropout` with one mask per sequence instead of one per step

    def __post_init__(self) -> None:
        recurrent_core = core(self.variant)
        for key in ("num_layers", "hidden_size", "embedding_dim"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"model.{key}={value!r} is invalid: it must be an integer >= 1 "
                    f"(e.g. model.{key}={1 if key == 'num_layers' else 128})"
                )
        for key in ("dropout", "embedding_dropout", "output_dropout"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0.0 <= float(value) < 1.0:
                raise ConfigError(
                    f"model.{key}={value!r} is invalid: it must be a probability in [0, 1)"
                )
        if (isinstance(self.weight_drop, bool) or not isinstance(self.weight_drop, int | float)
                or not 0.0 <= float(self.weight_drop) < 1.0):
            raise ConfigError(
                f"model.weight_drop={self.weight_drop!r} is invalid: it must be a probability in [0, 1) "
                "(the share of recurrent weights dropped per batch, e.g. model.weight_drop=0.3; 0 = off)"
            )
        if not isinstance(self.locked_dropout, bool):
            raise ConfigError(
                f"model.locked_dropout={self.locked_dropout!r} is invalid: use model.locked_dropout=true or false"
            )
        recurrent_core.check_bidirectional(self.bidirectional)
        recurrent_core.check_projection(self.proj_size, self.hidden_size)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def hidden_width(self) -> int:
        """Width of h: the projection's when there is one (lstmp), else hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """Width of the per-step encoder output (both directions concatenated)."""
        return self.hidden_width * self.num_directions

    @property
    def effective_dropout(self) -> float:
        """Dropout between layers; with one layer there is no such place, so it is 0."""
        return float(self.dropout) if self.num_layers > 1 else 0.0

    def warn_unused(self) -> None:
        """Say once that inter-layer dropout does nothing at depth 1 (as nn.LSTM does)."""
        if self.num_layers == 1 and self.dropout > 0:
            warnings.warn(
                f"model.dropout={self.dropout} is ignored with model.num_layers=1: it applies "
                "between LSTM layers (use model.embedding_dropout, or depth >= 2)",
                UserWarning,
                stacklevel=2,
            )
        if self.locked_dropout and self.effective_dropout == 0:
            warnings.warn(
                "model.locked_dropout=true does nothing without dropout between layers "
                "(model.dropout > 0 and model.num_layers >= 2)",
                UserWarning,
                stacklevel=2,
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def core_name(self) -> str:
        """`lstm`, `bilstm`, `seed`: the variant as the zoo names it."""
        return ("bi" if self.bidirectional else "") + self.variant

    def label(self) -> str:
        """The one short name of an architecture (run names, tables): `bilstm-L2-H232`."""
        return f"{self.core_name}-L{self.num_layers}-H{self.hidden_size}"

    def tags(self) -> dict[str, str]:
        """What a registry version says about its architecture, as MLflow tag strings: the sizes
        always, and each option and regulariser only where it is on (a plain LSTM's tags stay short)."""
        tags = {"variant": self.core_name, "depth": str(self.num_layers), "width": str(self.hidden_size),
                "embedding_dim": str(self.embedding_dim)}
        optional = {"bidirectional": self.bidirectional, "proj_size": self.proj_size, "dropout": self.dropout,
                    "embedding_dropout": self.embedding_dropout, "output_dropout": self.output_dropout,
                    "weight_drop": self.weight_drop, "locked_dropout": self.locked_dropout}
        tags.update({key: str(value).lower() if isinstance(value, bool) else f"{value:g}"
                     for key, value in optional.items() if value})
        return tags

    @classmethod
    def from_config(cls, cfg: Any) -> LSTMSpec:
        """Build from a config mapping, reporting unknown keys instead of a TypeError."""
        values = dict(cfg)
        values.pop("_target_", None)
        values.pop("name", None)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown model option(s) {unknown}; model options are {sorted(known)}"
            )
        return cls(**values)
