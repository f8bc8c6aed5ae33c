"""The encoder hyperparameters (`model.*`), validated before any data loads.

One flat spec serves every encoder, recurrent core or baseline, so a sweep tunes
`model.hidden_size` the same way for all of them and a registered bundle rebuilds any of
them from one dict. What each number means, and which ones an encoder refuses, is its
descriptor's call (`zoo.models.encoders`), not a name check here."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

from zoo.errors import ConfigError
from zoo.models.encoders import describe

RENAMED = {"seed": "gates"}  # encoders renamed since models were registered: old name -> new


@dataclass(frozen=True)
class EncoderSpec:
    """Depth, width and regularisation of an encoder.

    `encoder` names it: a recurrent core registered in `zoo.models.cores` (`lstm`
    is `torch.nn.LSTM`, `gates` the gate equations written out by hand, `gru` ...) or a
    baseline in `zoo.models.baselines` (`cnn`, `bow`, `transformer`). The fields after
    `locked_dropout` belong to baselines; their defaults mean "not used".
    """

    encoder: str = "lstm"
    num_layers: int = 1
    hidden_size: int = 128
    embedding_dim: int = 128
    dropout: float = 0.0
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0  # on what the head reads (see networks.py)
    bidirectional: bool = False
    proj_size: int = 0  # width of h after a projection (lstmp only); 0 = none
    weight_drop: float = 0.0  # DropConnect on the recurrent matrices weight_hh (zoo/models/regularisers.py)
    locked_dropout: bool = False  # `dropout` with one mask per sequence instead of one per step
    kernel_sizes: tuple[int, ...] = ()  # cnn: filter widths, `hidden_size` feature maps each
    ngram_buckets: int = 0  # bow: hashed bigram embeddings (0 = words only)
    word_dropout: float = 0.0  # bow: share of tokens left out of the average in training (DAN)
    num_heads: int = 0  # transformer: attention heads (divide hidden_size)
    ffn_size: int = 0  # transformer: feed-forward width (0 = 4 x hidden_size)
    positions: str = ""  # transformer: learned | sinusoidal
    context: int = 0  # transformer: positions it is built for (>= data.max_length or data.bptt)

    def __post_init__(self) -> None:
        if self.encoder in RENAMED:  # a bundle registered before the rename stores the old name
            object.__setattr__(self, "encoder", RENAMED[self.encoder])
        if isinstance(self.kernel_sizes, list):  # from a config; stored as a tuple so the spec stays hashable
            object.__setattr__(self, "kernel_sizes", tuple(self.kernel_sizes))
        encoder = describe(self.encoder)
        for key in ("num_layers", "hidden_size", "embedding_dim"):
            value = getattr(self, key)
            low = encoder.min_layers if key == "num_layers" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"model.{key}={value!r} is invalid: it must be an integer >= {low} "
                    f"(e.g. model.{key}={max(low, 1) if key == 'num_layers' else 128})"
                )
        for key in ("dropout", "embedding_dropout", "output_dropout", "word_dropout"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) < 1.0:
                raise ConfigError(
                    f"model.{key}={value!r} is invalid: it must be a probability in [0, 1)"
                )
        if (isinstance(self.weight_drop, bool) or not isinstance(self.weight_drop, int | float)
                or not 0.0 <= float(self.weight_drop) < 1.0):
            raise ConfigError(
                f"model.weight_drop={self.weight_drop!r} is invalid: it must be a probability in [0, 1) "
                "(the share of recurrent weights dropped per batch, e.g. model.weight_drop=0.3; 0 = off)"
            )
        for key in ("bidirectional", "locked_dropout"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"model.{key}={getattr(self, key)!r} is invalid: use model.{key}=true or false")
        for key in ("proj_size", "ngram_buckets", "num_heads", "ffn_size", "context"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"model.{key}={value!r} is invalid: it must be a whole number >= 0")
        encoder.check(self)

    @classmethod
    def unused(cls, name: str) -> Any:
        """The value of option `name` that means "not used" (its default)."""
        return next(f.default for f in fields(cls) if f.name == name)

    @property
    def recurrent(self) -> bool:
        """Whether the encoder is a recurrent core (it has a state to carry and a final hidden state)."""
        return describe(self.encoder).recurrent

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def hidden_width(self) -> int:
        """Width of a core's h: the projection's when there is one (lstmp), else hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """Width of a core's per-step output (both directions side by side)."""
        return self.hidden_width * self.num_directions

    @property
    def effective_dropout(self) -> float:
        """A core's dropout between layers; with one layer there is no such place, so it is 0."""
        return float(self.dropout) if self.num_layers > 1 else 0.0

    def warn_unused(self) -> None:
        """Say once that inter-layer dropout does nothing at depth 1 (as nn.LSTM does)."""
        if not self.recurrent:
            return
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
        """Plain values (lists, not tuples), and the baseline options only where they are used,
        so a recurrent core's dict is what it was before baselines existed."""
        values = asdict(self)
        values["kernel_sizes"] = list(self.kernel_sizes)
        return {k: v for k, v in values.items() if k in _CORE_FIELDS or getattr(self, k) != self.unused(k)}

    @property
    def core_name(self) -> str:
        """`lstm`, `bilstm`, `gates`, `cnn`: the encoder as the zoo names it."""
        return ("bi" if self.bidirectional else "") + self.encoder

    def label(self) -> str:
        """The one short name of an architecture (run names, tables): `bilstm-L2-H232`."""
        return f"{self.core_name}-L{self.num_layers}-H{self.hidden_size}"

    @classmethod
    def from_config(cls, cfg: Any) -> EncoderSpec:
        """Build from a config mapping, reporting unknown keys instead of a TypeError."""
        values = dict(cfg)
        values.pop("_target_", None)
        values.pop("name", None)
        if "variant" in values:  # the key's name in configs and bundles before baselines joined the zoo
            values.setdefault("encoder", values.pop("variant"))
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown model option(s) {unknown}; model options are {sorted(known)}"
            )
        if "kernel_sizes" in values and values["kernel_sizes"] is not None and not isinstance(
                values["kernel_sizes"], str | int):
            values["kernel_sizes"] = tuple(values["kernel_sizes"])
        return cls(**values)


# the options every recurrent core was built from before baselines existed: always in `to_dict`
_CORE_FIELDS = ("encoder", "num_layers", "hidden_size", "embedding_dim", "dropout", "embedding_dropout",
                "output_dropout", "bidirectional", "proj_size", "weight_drop", "locked_dropout")
