"""Load a dataset's raw splits with HF `datasets`, whatever the source format.

Every format ends in the same shape: a `DatasetDict` with `train`, `validation` and
`test`, a `text` column and, for classification, a string `label` column. Splits the
files do not provide are carved (test stratified from train or as one cross-validation
fold, then validation from the rest, all with the fixed split_seed; or the three splits of
one text by position), through `datasets` operations so results are cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from zoo.data.checks import check_headers, check_labels, check_rows
from zoo.data.spec import SPLITS, DatasetSpec, SourceSpec
from zoo.data.splitting import holdout, kfold
from zoo.errors import DataError

MAKE_DATA_HINT = (
    "Run `make data` to link the benchmark datasets into the data folder (ZOO_DATA_DIR, "
    "default data/), or point data.local.dir at your copy."
)


def _local_file(source: SourceSpec, name: str) -> str:
    path = Path(source.dir or ".") / name
    if not path.is_file():
        raise DataError(f"data file not found: {path}. {MAKE_DATA_HINT}")
    return str(path)


def local_files(source: SourceSpec) -> list[str]:
    """Every local file the source reads (for fingerprints and existence checks)."""
    if source.format == "hub":
        return []
    files: list[str] = []
    for entry in source.splits.values():
        names = entry.values() if isinstance(entry, dict) else [entry]
        files.extend(_local_file(source, name) for name in names)
    return files


def _load(builder: str, data_files: dict[str, Any], cache_dir: str, **kwargs: Any):
    """`datasets.load_dataset` on local files, turning parser failures into DataError."""
    try:
        return datasets.load_dataset(builder, data_files=data_files, cache_dir=cache_dir, **kwargs)
    except Exception as err:  # noqa: BLE001 - the library raises many types for bad files
        cause = err.__cause__ or err
        hint = ""
        if isinstance(cause, UnicodeDecodeError):
            hint = "; set encoding in the dataset YAML's source (e.g. latin-1)"
        raise DataError(
            f"could not read {sorted({str(v) for v in data_files.values()})} as {builder}: "
            f"{type(cause).__name__}: {cause}".splitlines()[0] + hint
        ) from None


def _require_columns(ds: datasets.DatasetDict, columns: list[str], source: SourceSpec) -> None:
    for split, part in ds.items():
        missing = [c for c in columns if c not in part.column_names]
        if missing:
            raise DataError(
                f"split {split!r} ({source.splits.get(split)}) has no column(s) {missing}; "
                f"it has {part.column_names}. Set text_column(s)/label_column or column_names "
                "in the dataset YAML."
            )


def _text_columns(source: SourceSpec) -> list[str]:
    return list(source.text_columns or [source.text_column])


def _source_columns(spec: DatasetSpec) -> list[str]:
    return _text_columns(spec.source) + ([spec.source.label_column] if spec.is_classification else [])


def _load_table(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    source = spec.source
    files = {split: _local_file(source, name) for split, name in source.splits.items()}
    options: dict[str, Any] = {"delimiter": "\t" if source.format == "tsv" else ",", "encoding": source.encoding}
    if source.format == "tsv":
        options["quoting"] = 3  # csv.QUOTE_NONE: quotes are text in these corpora
    if source.column_names:
        options.update(column_names=list(source.column_names), header=0)
    check_headers(files, source, options["delimiter"])
    ds = _load("csv", files, cache_dir, **options)
    check_rows(ds, files, header=True)
    _require_columns(ds, _source_columns(spec), source)
    check_labels(ds, files, source.label_column if spec.is_classification else None)
    return ds


def _split_label_prefix(batch: dict[str, list], level: str) -> dict[str, list]:
    labels, texts = [], []
    for line in batch["text"]:
        label, _, text = line.strip().partition(" ")
        if not label or not text:
            raise DataError(f"malformed line {line!r}: expected 'LABEL text' (e.g. 'NUM:date When ...')")
        labels.append(label.split(":", 1)[0] if level == "coarse" else label)
        texts.append(text)
    return {"label": labels, "text": texts}


def _load_label_prefix(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    files = {split: _local_file(spec.source, name) for split, name in spec.source.splits.items()}
    ds = _load("text", files, cache_dir, encoding=spec.source.encoding)
    ds = ds.filter(lambda row: bool(row["text"].strip()))
    check_rows(ds, files, header=False)
    return ds.map(_split_label_prefix, batched=True, fn_kwargs={"level": spec.label_level})


def _load_label_files(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    out = {}
    for split, per_label in spec.source.splits.items():
        if not isinstance(per_label, dict):
            raise DataError(
                f"format label_files needs splits.{split} to map each label to a file, "
                f"e.g. {{pos: rt.pos, neg: rt.neg}}; got {per_label!r}"
            )
        parts = []
        for label, name in sorted(per_label.items()):
            file = _local_file(spec.source, name)
            part = _load("text", {"train": file}, cache_dir, encoding=spec.source.encoding)["train"]
            part = part.filter(lambda row: bool(row["text"].strip()))
            parts.append(part.map(lambda _, lab=str(label): {"label": lab}))
        out[split] = datasets.concatenate_datasets(parts)
    return datasets.DatasetDict(out)


def _load_text(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    files = {split: _local_file(spec.source, name) for split, name in spec.source.splits.items()}
    return _load("text", files, cache_dir, sample_by="document", encoding=spec.source.encoding)


def _load_hub(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    source = spec.source
    if not source.path:
        raise DataError(f"data.hub.path is empty for dataset {spec.name}")
    try:
        loaded = datasets.load_dataset(source.path, source.name, cache_dir=cache_dir)
    except Exception as err:  # noqa: BLE001 - network, auth and format errors alike
        raise DataError(
            f"could not load {source.path!r} from the Hugging Face hub ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Without a network use the local "
            f"files (data.source=local, then `make data`)."
        ) from None
    unknown = sorted(set(source.splits.values()) - set(loaded))
    if unknown:
        raise DataError(f"hub dataset {source.path} has no split(s) {unknown}; it has {sorted(loaded)}")
    ds = datasets.DatasetDict({split: loaded[name] for split, name in source.splits.items()})
    _require_columns(ds, _source_columns(spec), source)
    label = source.label_column
    if spec.is_classification and isinstance(ds["train"].features.get(label), datasets.ClassLabel):
        names = ds["train"].features[label].names
        ds = ds.filter(lambda row: row[label] >= 0)  # -1 marks a hidden (unlabelled) example
        ds = ds.map(lambda row: {label: names[row[label]]})
    return ds


LOADERS = {
    "tsv": _load_table,
    "csv": _load_table,
    "label_prefix": _load_label_prefix,
    "label_files": _load_label_files,
    "text": _load_text,
    "hub": _load_hub,
}


def _normalise(spec: DatasetSpec, ds: datasets.DatasetDict) -> datasets.DatasetDict:
    """Keep `text` (and a string `label`), mapping raw labels through label_names."""
    source = spec.source
    names = source.label_names
    columns = _text_columns(source)

    def rename(batch: dict[str, list]) -> dict[str, list]:
        if len(columns) == 1:
            out = {"text": ["" if t is None else str(t) for t in batch[columns[0]]]}
        else:
            out = {"text": [_join(parts) for parts in zip(*(batch[c] for c in columns), strict=True)]}
        if spec.is_classification:
            out["label"] = [names.get(str(v), str(v)) for v in batch[source.label_column]]
        return out

    keep = ["text", "label"] if spec.is_classification else ["text"]
    return datasets.DatasetDict({
        split: part.map(rename, batched=True, remove_columns=[
            c for c in part.column_names if c not in keep
        ]).select_columns(keep)
        for split, part in ds.items()
    })


def _join(parts: tuple[Any, ...]) -> str:
    """text_columns: non-empty parts joined with one space (a missing title is no gap)."""
    texts = ("" if p is None or p != p else str(p).strip() for p in parts)  # p != p: NaN
    return " ".join(t for t in texts if t)


def _cut_by_position(batch: dict[str, list], fractions: list[float]) -> dict[str, list]:
    text = "".join(batch["text"])
    bounds = [0]
    for fraction in fractions:
        bounds.append(bounds[-1] + int(round(len(text) * fraction)))
    bounds[-1] = len(text)
    return {
        "text": [text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
        "split": list(SPLITS),
    }


def _carve(spec: DatasetSpec, ds: datasets.DatasetDict) -> datasets.DatasetDict:
    source = spec.source
    if source.split_by_position:
        fractions = list(source.split_by_position)
        if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6:
            raise DataError(f"split_by_position={fractions} must be three fractions summing to 1")
        whole = ds["train"].map(
            _cut_by_position, batched=True, batch_size=None, fn_kwargs={"fractions": fractions}
        )
        return datasets.DatasetDict({
            split: whole.filter(lambda row, s=split: row["split"] == s).remove_columns("split")
            for split in SPLITS
        })
    if spec.cv_folds:
        train, test = kfold(ds["train"], spec.cv_folds, spec.cv_fold, spec.split_seed)
        ds = datasets.DatasetDict({**ds, "train": train, "test": test})
    elif "test" not in ds and source.test_fraction:
        what = f"a test split (data.{spec.source_name}.test_fraction={source.test_fraction}) from train"
        train, test = holdout(ds["train"], source.test_fraction, spec.split_seed, what)
        ds = datasets.DatasetDict({**ds, "train": train, "test": test})
    if "validation" not in ds and source.validation_fraction:
        try:
            carved = ds["train"].train_test_split(
                test_size=source.validation_fraction, seed=spec.split_seed, shuffle=True
            )
        except ValueError as err:  # too few rows for the fraction
            raise DataError(
                f"dataset {spec.name}: cannot carve a validation split (data.{spec.source_name}.validation_fraction="
                f"{source.validation_fraction}) from {len(ds['train'])} train row(s) ({str(err).splitlines()[0]}); "
                "add rows, or name a validation file in splits"
            ) from None
        ds = datasets.DatasetDict({**ds, "train": carved["train"], "validation": carved["test"]})
    missing = [split for split in SPLITS if split not in ds]
    if missing:
        raise DataError(
            f"dataset {spec.name} has no {missing} split(s): name a file for each in "
            "splits, or set validation_fraction/test_fraction (classification) / split_by_position (text)"
        )
    return ds


def load_splits(spec: DatasetSpec, cache_dir: str) -> datasets.DatasetDict:
    """Raw train/validation/test splits of `spec`, cached by `datasets` in `cache_dir`."""
    datasets.disable_progress_bars()
    raw = LOADERS[spec.source.format](spec, cache_dir)
    return _carve(spec, _normalise(spec, raw))
