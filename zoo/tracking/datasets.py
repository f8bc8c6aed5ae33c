"""The splits a run read, logged as MLflow dataset inputs (the run page's "Datasets used" and
the runs table's Dataset column): one per split, named `<dataset>-<split>`, with context
train, validation or test, the data file(s) as source and our SHA-256 as digest."""

from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path

import mlflow
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.types import ColSpec, DataType, Schema
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from zoo.data.spec import DatasetSpec

DIGEST_CHARS = 36  # the width of MLflow's dataset digest column (a longer one fails on PostgreSQL)
CARVED_TAG = "zoo.carved_from"  # input tag of a split cut from another one's files
ROWS_TAG = "zoo.size"  # input tag: examples (classification) or tokens (text) in the split
LOG_ATTEMPTS = 3


def _files(spec: DatasetSpec, split: str) -> list[Path]:
    entry = spec.source.splits.get(split)
    names = entry.values() if isinstance(entry, dict) else [entry]
    return [Path(spec.source.dir or ".") / str(name) for name in names]


def _digest(files: list[Path], fingerprints: dict[str, str]) -> str:
    """The file's SHA-256 (as in the run's `data.sha256.*` tags); for several files, the
    SHA-256 of their names and digests; cut to the width MLflow stores."""
    digests = [fingerprints.get(f.name, "") for f in files]
    if len(files) == 1 and digests[0]:
        return digests[0][:DIGEST_CHARS]
    joined = "\n".join(f"{f.name} {d}" for f, d in sorted(zip(files, digests, strict=True)))
    return hashlib.sha256(joined.encode()).hexdigest()[:DIGEST_CHARS]


def _source(spec: DatasetSpec, split: str, files: list[Path]) -> DatasetSource:
    """The local file (the folder of several), or the hub dataset and its split."""
    if spec.source.format == "hub":
        from mlflow.data.huggingface_dataset_source import HuggingFaceDatasetSource

        return HuggingFaceDatasetSource(path=spec.source.path or spec.name, split=spec.source.splits.get(split))
    where = files[0] if len(files) == 1 else files[0].parent
    with warnings.catch_warnings():  # "can be interpreted in multiple ways": local either way
        warnings.simplefilter("ignore")
        return resolve_dataset_source(str(where.resolve()))


def split_datasets(spec: DatasetSpec, fingerprints: dict[str, str], sizes: dict[str, int],
                   splits: tuple[str, ...] = ("train", "validation", "test")) -> list[DatasetInput]:
    """One dataset input per split in `splits`. A split the files do not provide (carved from
    train: a validation fraction, a test fold, a slice of one text) names train's files as
    its source and digest, and says so in its `zoo.carved_from` tag."""
    columns = [ColSpec(DataType.string, "text")]
    if spec.is_classification:
        columns.append(ColSpec(DataType.string, "label"))
    inputs = []
    for split in splits:
        carved = split not in spec.source.splits
        origin = "train" if carved else split
        files = [] if spec.source.format == "hub" else _files(spec, origin)
        digest = None if spec.source.format == "hub" else _digest(files, fingerprints)
        dataset = MetaDataset(_source(spec, origin, files), name=f"{spec.name}-{split}", digest=digest,
                              schema=Schema(columns))
        tags = [InputTag(MLFLOW_DATASET_CONTEXT, split)]
        if carved:
            tags.append(InputTag(CARVED_TAG, origin))
        size = next((v for k, v in sizes.items() if k.startswith(f"{split}_")), None)
        if size is not None:
            tags.append(InputTag(ROWS_TAG, str(size)))
        inputs.append(DatasetInput(dataset._to_mlflow_entity(), tags))
    return inputs


def log_datasets(client: mlflow.MlflowClient, run_id: str, spec: DatasetSpec, fingerprints: dict[str, str],
                 sizes: dict[str, int], test: bool = True) -> None:
    """`mlflow.log_input` for each split the run uses, on `client` (no active run needed).

    A dataset is stored once per experiment: the store looks it up, then inserts it in one
    transaction. Two runs of an experiment that log the same split at the same moment (the
    first trials of parallel sweep workers) can both miss it, and the later insert fails on
    the `(experiment_id, name, digest)` key with nothing written; logged again, the run finds
    the other's dataset and only links it."""
    splits = ("train", "validation", "test") if test else ("train", "validation")
    inputs = split_datasets(spec, fingerprints, sizes, splits)
    for attempt in range(1, LOG_ATTEMPTS + 1):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except MlflowException as err:
            if attempt == LOG_ATTEMPTS or not _dataset_logged_concurrently(err):
                raise
            time.sleep(0.2 * attempt)


def _dataset_logged_concurrently(err: MlflowException) -> bool:
    """Whether the store refused the insert of a dataset another run inserted meanwhile: the
    `dataset_pk` key on PostgreSQL, the same key's UNIQUE constraint on SQLite and MySQL."""
    text = str(err).lower()
    return "dataset_pk" in text or ("datasets." in text and ("unique constraint" in text or "duplicate" in text))
