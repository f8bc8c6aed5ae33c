"""The model being explained, from a registered version or a training run, and the batches
of one of its own data splits (its logged config, moved to this machine)."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mlflow
import torch
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig
from tokenizers import Tokenizer
from torch import Tensor, nn
from torch.utils.data import DataLoader

from zoo.config import check_overrides, compose_config
from zoo.data.base import TextDataModule
from zoo.data.spec import parse_dataset_spec
from zoo.errors import ZooError
from zoo.models import EncoderSpec
from zoo.registry.bundle import build_network, bundle_from_checkpoint
from zoo.registry.loading import URI, reading_store
from zoo.registry.reproduction import logged_config
from zoo.registry.versions import logged_max_length, resolve_version
from zoo.tasks import kind
from zoo.tasks.kinds import kind_of_config
from zoo.tracking.store import CHECKPOINT_ARTIFACT
from zoo.training.builders import build_datamodule

SPLITS = ("train", "validation", "test")


class SeedEnsemble(ZooError):
    """The model averages several networks: their attributions and units are not one model's."""


@dataclass(frozen=True)
class Subject:
    """An eval-mode network, its tokenizer and bundle, and the run that trained it (where
    the explanation is logged)."""

    name: str  # as the user gave it: models:/<name>/<version>, @alias, or a run id
    run_id: str
    tracking_uri: str
    network: nn.Module
    tokenizer: Tokenizer
    bundle: dict[str, Any]
    data: str | None = None  # another dataset (conf/data/<name>.yaml) read instead of its own

    @property
    def encoder(self) -> str:
        model = self.bundle["hparams"]["model"]
        return str(model.get("encoder") or model.get("variant"))

    @property
    def task(self) -> str:
        return str(self.bundle["task"])

    @property
    def dataset(self) -> str:
        """What the explanation reads, as the summary names it."""
        return f"the {self.data} dataset" if self.data else "its own dataset"

    @property
    def metric_prefix(self) -> str:
        """`explain/` for its own data; `explain/on_<data>/` beside it for another dataset."""
        return f"explain/on_{self.data}/" if self.data else "explain/"


def _run_bundle(client: mlflow.MlflowClient, run_id: str) -> dict[str, Any]:
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ZooError(f"model={run_id!r} is neither models:/<name>/<version> (or @alias) nor a run id in "
                       f"this store; e.g. model=models:/sst2-sentiment@champion") from None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            checkpoint = client.download_artifacts(run_id, CHECKPOINT_ARTIFACT, tmp)
        except (MlflowException, OSError):
            raise ZooError(f"run {run_id} has no {CHECKPOINT_ARTIFACT} artifact: explain a run that "
                           "kept its checkpoint, or a registered version") from None
        return bundle_from_checkpoint(checkpoint, logged_max_length(run))


def load_subject(model: str, tracking_uri: str | None = None, data: str | None = None) -> Subject:
    """`model` is `models:/<name>/<version>`, `models:/<name>@<alias>` or a training run id;
    `data` a dataset to read instead of the model's own (checked before the model loads)."""
    if data is not None:
        check_overrides([f"data={data}"])
    uri = reading_store(tracking_uri)
    client = mlflow.MlflowClient(uri)
    match = URI.match(model)
    if model.startswith("models:/") and not match:
        raise ZooError(f"model={model!r} must look like models:/<name>@<alias> or models:/<name>/<version>")
    if match:
        version = resolve_version(client, match["name"], match["alias"] or match["version"])
        mlflow.set_tracking_uri(uri)
        bundle = mlflow.pyfunc.load_model(model).unwrap_python_model().bundle
        run_id = version.run_id
    else:
        bundle, run_id = _run_bundle(client, model), model
    if bundle.get("members"):
        raise SeedEnsemble(f"{model} is a seed ensemble of {len(bundle['members'])} models; explain one of them "
                       "(the seed-0 version the same recipe registered)")
    network, tokenizer = build_network(bundle)
    return Subject(model, run_id, uri, network, tokenizer, bundle, data)


_DATAMODULES: dict[tuple[str, str, str | None], TextDataModule] = {}


def datamodule_of(subject: Subject) -> TextDataModule:
    """The subject's data module, set up from its run's logged config on this machine's data (or
    the dataset `subject.data` names, read with its tokenizer and classes). Built once per run,
    dataset and process: gates, cells and attributions all read the same data."""
    key = (subject.tracking_uri, subject.run_id, subject.data)
    if key not in _DATAMODULES:
        cfg = logged_config(mlflow.MlflowClient(subject.tracking_uri), subject.run_id, subject.tracking_uri)
        datamodule = _other_dataset(subject, cfg) if subject.data else build_datamodule(cfg)
        datamodule.setup("fit")
        _DATAMODULES[key] = datamodule
    datamodule = _DATAMODULES[key]
    if datamodule.tokenizer is None or datamodule.tokenizer.to_str() != subject.tokenizer.to_str():
        raise ZooError(f"the data of run {subject.run_id} no longer gives the tokenizer the model was trained "
                       "with (the data files changed?); explain it on the data it was trained on")
    return datamodule


def _other_dataset(subject: Subject, cfg: DictConfig) -> TextDataModule:
    """`data=<name>` read as the model reads its own: its tokenizer, its classes (in its order),
    its maximum length; refused when the dataset is not the kind of text the model reads."""
    data = compose_config([f"data={subject.data}"]).data
    task_kind = kind_of_config(cfg)
    task_kind.check_content(parse_dataset_spec(data), f"{subject.name} (a {task_kind.name})")
    data.max_length = cfg.data.get("max_length", data.get("max_length"))
    classes = subject.bundle["hparams"].get("class_names")
    extra = {"classes": list(classes)} if classes else {}
    return task_kind.data_module(data, cache_dir=cfg.paths.cache_dir, seed=cfg.seed, tokenizer=subject.tokenizer,
                                 **extra)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ZooError(f"split={split!r}; choose one of {', '.join(SPLITS)}")
    return split


def split_batches(subject: Subject, split: str, limit: int) -> Iterator[dict[str, Tensor]]:
    """Batches of `split` of the subject's own dataset, at most `limit` rows (texts, or windows
    of a language model's streams) in all."""
    datamodule = datamodule_of(subject)
    loader = {"train": datamodule.train_dataloader, "validation": datamodule.val_dataloader,
              "test": datamodule.test_dataloader}[check_split(split)]()
    yield from _rows(loader, limit, datamodule.seed)


def stream_rows(datamodule: TextDataModule, split: str, rows: int, length: int) -> Tensor:
    """(rows, length) token ids: `rows` stretches of a language model's `split` stream, spread
    evenly over it (consecutive text in each row)."""
    stream = datamodule.streams[check_split(split)]  # type: ignore[attr-defined]
    if len(stream) < length + 1:
        raise ZooError(f"the {split} split has {len(stream)} tokens, fewer than length={length}")
    starts = torch.linspace(0, len(stream) - length - 1, rows).long()
    return torch.stack([stream[start:start + length] for start in starts.tolist()])


def _rows(loader: DataLoader, limit: int, seed: int) -> Iterator[dict[str, Tensor]]:
    """A classifier's texts: `limit` of them drawn at random (seeded), so a sample is not the
    shortest texts the length-grouped batches start with. A language model's windows: the
    first `limit`, consecutive text."""
    if loader.batch_size is None:
        seen = 0
        for batch in loader:
            rows = min(len(batch["input_ids"]), limit - seen)
            yield {key: value[:rows] for key, value in batch.items()}
            seen += rows
            if seen >= limit:
                return
        return
    dataset = loader.dataset
    size = len(dataset)  # type: ignore[arg-type]
    chosen = sorted(random.Random(seed).sample(range(size), min(limit, size)))
    step = int(loader.batch_size)
    for start in range(0, len(chosen), step):
        yield loader.collate_fn([dataset[i] for i in chosen[start:start + step]])  # type: ignore[misc]


def untrained_network(subject: Subject, seed: int = 0) -> nn.Module:
    """The subject's architecture with fresh random weights (seeded): the control a cell's
    score is compared with, since random recurrent units track some concepts too."""
    hp = subject.bundle["hparams"]
    torch.manual_seed(seed)
    return kind(subject.task).network(EncoderSpec.from_config(hp["model"]), hp).eval()
