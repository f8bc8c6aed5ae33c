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
CONTENTS = ("classification", "text")  # labelled texts, or one text stream
SPLITS = ("train", "validation", "test")
PAD, UNK = "[PAD]", "[UNK]"  # ids 0 and 1 of every vocabulary
SPECIAL_TOKENS = [PAD, UNK]


@dataclass(frozen=True)
class SourceSpec:
    """One way to obtain the raw splits: local files in a known format, or a hub id."""

    format: str
    splits: dict[str, Any]
    dir: str | None = None
    path: str | None = None
    name: str | None = None
    text_column: str = "text"
    text_columns: list[str] | None = None  # several columns joined with a space (csv/tsv/hub)
    label_column: str = "label"
    column_names: list[str] | None = None
    label_names: dict[str, str] = field(default_factory=dict)
    validation_fraction: float | None = None
    test_fraction: float | None = None  # stratified test split carved from train
    split_by_position: list[float] | None = None
    encoding: str = "utf-8"  # of local files (MR ships latin-1)


@dataclass(frozen=True)
class TokenizerSpec:
    level: str = "word"
    vocab_size: int = 20000
    min_frequency: int = 1
    lowercase: bool = True


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    content: str  # classification | text: labelled texts, or one stream
    source_name: str
    source: SourceSpec
    tokenizer: TokenizerSpec
    label_level: str = "coarse"
    split_seed: int = 0
    batch_size: int = 64
    eval_batch_size: int = 256
    max_length: int = 256
    bptt: int = 128
    cv_folds: int | None = None  # stratified K-fold: fold cv_fold of train is the test split
    cv_fold: int = 0

    @property
    def is_classification(self) -> bool:
        return self.content == "classification"


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
    data.pop("defaults", None)  # Hydra's (conf/schema/data.yaml), when a YAML is read without Hydra
    name = data.pop("name", None) or "<unnamed>"
    content = data.pop("content", None)
    legacy = data.pop("kind", None)  # the key's name before task kinds took the word
    content = content if content is not None else legacy
    if content not in CONTENTS:
        raise ConfigError(f"data.content={content!r} for dataset {name}; choose one of {', '.join(CONTENTS)} "
                          "(what the dataset holds: labelled texts, or one text stream)")
    source_name = data.pop("source", "local")
    sources = {key: data.pop(key) for key in ("local", "hub") if key in data}
    if not isinstance(source_name, str) or source_name not in sources:
        raise ConfigError(
            f"data.source={source_name!r} but dataset {name} defines sources "
            f"{sorted(sources) or 'none'}"
        )
    source_values = _mapping(sources[source_name], f"data.{source_name}", "{format: tsv, dir: ..., splits: {...}}")
    label_names = _mapping(source_values.get("label_names"), f"data.{source_name}.label_names", "{0: negative}")
    source_values["label_names"] = {str(k): str(v) for k, v in label_names.items()}
    splits = source_values.get("splits")
    if not isinstance(splits, dict) or not all(isinstance(k, str) for k in splits):
        raise ConfigError(f"data.{source_name}.splits={splits!r} must map split names to files, "
                          "e.g. {train: train.tsv, test: test.tsv}")
    source = _build(SourceSpec, source_values, f"data.{source_name}")
    if source.format not in FORMATS:
        raise ConfigError(
            f"data.{source_name}.format={source.format!r}; choose one of {', '.join(FORMATS)}"
        )
    for key in ("validation_fraction", "test_fraction"):
        _check_fraction(getattr(source, key), f"data.{source_name}.{key}")
    if "train" not in source.splits:
        raise ConfigError(f"data.{source_name}.splits must name a train split")
    _check_text_columns(source, source_values, f"data.{source_name}")
    tokenizer = _build(TokenizerSpec, _mapping(data.pop("tokenizer", {}), "data.tokenizer", "{level: word}"),
                       "data.tokenizer")
    if tokenizer.level not in ("word", "char"):
        raise ConfigError(f"data.tokenizer.level={tokenizer.level!r}; choose word or char")
    label_level = data.get("label_level", "coarse")
    if label_level not in ("coarse", "fine"):
        raise ConfigError(f"data.label_level={label_level!r}; choose coarse or fine")
    spec = _build(
        DatasetSpec,
        {"name": name, "content": content, "source_name": source_name, "source": source,
         "tokenizer": tokenizer, **data},
        f"data ({name})",
    )
    for key in ("batch_size", "eval_batch_size", "max_length", "bptt"):
        _check_count(getattr(spec, key), f"data.{key}", 1, 64)
    _check_count(tokenizer.vocab_size, "data.tokenizer.vocab_size", len(SPECIAL_TOKENS) + 1, 10000,
                 f" (the {len(SPECIAL_TOKENS)} special tokens {', '.join(SPECIAL_TOKENS)} and at least one word)")
    _check_count(tokenizer.min_frequency, "data.tokenizer.min_frequency", 1, 1)
    _check_test_split(spec)
    return spec


def _mapping(value: Any, where: str, example: str) -> dict[str, Any]:
    """`value` as a dict of its options (None: no options), or a ConfigError naming the block."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}={value!r} must be a block of options, e.g. {where}: {example}")
    return dict(value)


def _check_count(value: Any, where: str, low: int, example: int, why: str = "") -> None:
    """A whole number >= `low` (Hydra passes `abc` and `2.5` through as they are)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where}={value!r} is invalid: it must be an integer >= {low}{why}, "
                          f"e.g. {where}={example}")


def _check_fraction(value: Any, where: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(f"{where}={value!r} must be a number in (0, 1), e.g. 0.1 for 10% of train")


def _check_text_columns(source: SourceSpec, given: dict[str, Any], where: str) -> None:
    """Several text columns only make sense for tabular sources, and only instead of one."""
    columns = source.text_columns
    if columns is None:
        return
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise ConfigError(
            f"{where}.text_columns={columns!r} must list the column names to join, "
            "e.g. [title, description]; for one column use text_column"
        )
    if source.format not in ("csv", "tsv", "hub"):
        raise ConfigError(f"{where}.text_columns works with format csv, tsv or hub, not {source.format}")
    if "text_column" in given:
        raise ConfigError(
            f"{where} sets both text_column and text_columns; keep text_columns and remove text_column"
        )


def _check_test_split(spec: DatasetSpec) -> None:
    """test_fraction and cv_folds each make the test split; with cv_folds the folds decide it
    (test_fraction is the split used without cross-validation), never beside a test file."""
    where = f"data.{spec.source_name}"
    source, folds, fold = spec.source, spec.cv_folds, spec.cv_fold
    if not spec.is_classification and (folds is not None or source.test_fraction is not None):
        raise ConfigError(
            f"data.cv_folds/{where}.test_fraction need a classification dataset; {spec.name} is "
            "kind: text (use split_by_position)"
        )
    test_file = source.splits.get("test")
    if source.test_fraction is not None and test_file is not None:
        raise ConfigError(
            f"{where}.test_fraction carves a test split, but {where}.splits already names one "
            f"({test_file}); remove splits.test or set {where}.test_fraction=null"
        )
    if folds is None:
        if fold != 0:
            raise ConfigError(f"data.cv_fold={fold!r} needs data.cv_folds (e.g. data.cv_folds=10)")
        return
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"data.cv_folds={folds!r} must be an integer >= 2 (e.g. 10), or null for no CV")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(f"data.cv_fold={fold!r} must be an integer in 0..{folds - 1} for data.cv_folds={folds}")
    if test_file is not None:
        raise ConfigError(
            f"data.cv_folds={folds} makes the test split from folds of train, but {where}.splits "
            f"names a test split ({test_file}); remove it (~{where}.splits.test) or set data.cv_folds=null"
        )
