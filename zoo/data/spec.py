"""What a dataset YAML says, checked once, so the loaders can trust it.

A dataset is one YAML file in `conf/data/`: where its files are (or its hub id), their
format, the text and label columns, and how to split. Adding a dataset needs no Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zoo.errors import ConfigError

FORMATS = ("tsv", "csv", "label_prefix", "label_files", "text", "hub")
KINDS = ("classification", "text")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SourceSpec:
    """One way to obtain the raw splits: local files in a known format, or a hub id."""

    format: str
    splits: dict[str, Any]
    dir: str | None = None
    path: str | None = None
    name: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    column_names: list[str] | None = None
    label_names: dict[str, str] = field(default_factory=dict)
    validation_fraction: float | None = None
    split_by_position: list[float] | None = None


@dataclass(frozen=True)
class TokenizerSpec:
    level: str = "word"
    vocab_size: int = 20000
    min_frequency: int = 1
    lowercase: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str
    source_name: str
    source: SourceSpec
    tokenizer: TokenizerSpec
    label_level: str = "coarse"
    split_seed: int = 0
    batch_size: int = 64
    eval_batch_size: int = 256
    max_length: int = 256
    bptt: int = 128

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} in {where}; known: {sorted(known)}")
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def parse_dataset_spec(cfg: DictConfig | dict[str, Any]) -> DatasetSpec:
    """Validate the `data` config group and return a typed spec."""
    data = dict(_plain(cfg))
    name = data.pop("name", None) or "<unnamed>"
    kind = data.pop("kind", None)
    if kind not in KINDS:
        raise ConfigError(f"data.kind={kind!r} for dataset {name}; choose one of {KINDS}")
    source_name = data.pop("source", "local")
    sources = {key: data.pop(key) for key in ("local", "hub") if key in data}
    if source_name not in sources:
        raise ConfigError(
            f"data.source={source_name!r} but dataset {name} defines sources "
            f"{sorted(sources) or 'none'}"
        )
    source_values = dict(sources[source_name])
    source_values["label_names"] = {
        str(k): str(v) for k, v in (source_values.get("label_names") or {}).items()
    }
    source = _build(SourceSpec, source_values, f"data.{source_name}")
    if source.format not in FORMATS:
        raise ConfigError(
            f"data.{source_name}.format={source.format!r}; choose one of {', '.join(FORMATS)}"
        )
    if source.validation_fraction is not None and not 0 < float(source.validation_fraction) < 1:
        raise ConfigError(f"data.{source_name}.validation_fraction={source.validation_fraction} must be in (0, 1)")
    if "train" not in source.splits:
        raise ConfigError(f"data.{source_name}.splits must name a train split")
    tokenizer = _build(TokenizerSpec, dict(data.pop("tokenizer", {}) or {}), "data.tokenizer")
    if tokenizer.level not in ("word", "char"):
        raise ConfigError(f"data.tokenizer.level={tokenizer.level!r}; choose word or char")
    label_level = data.get("label_level", "coarse")
    if label_level not in ("coarse", "fine"):
        raise ConfigError(f"data.label_level={label_level!r}; choose coarse or fine")
    spec = _build(
        DatasetSpec,
        {"name": name, "kind": kind, "source_name": source_name, "source": source,
         "tokenizer": tokenizer, **data},
        f"data ({name})",
    )
    for key in ("batch_size", "eval_batch_size", "max_length", "bptt"):
        if int(getattr(spec, key)) < 1:
            raise ConfigError(f"data.{key}={getattr(spec, key)} must be >= 1")
    return spec
