"""Turn a composed config into the pieces of a run, checking the config before data loads."""

from __future__ import annotations

from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from zoo.data import ClassificationDataModule, LanguageModelDataModule, parse_dataset_spec
from zoo.data.base import TextDataModule
from zoo.errors import ConfigError
from zoo.models import LSTMSpec
from zoo.models.pooling import POOLINGS
from zoo.tasks import ZooTask

DATA_MODULES: dict[str, type[TextDataModule]] = {
    "classification": ClassificationDataModule,
    "text": LanguageModelDataModule,
}


def check_config(cfg: DictConfig) -> LSTMSpec:
    """Every check that needs no data: hyperparameters, and task/data/variant fit together."""
    spec = LSTMSpec.from_config(cfg.model)
    data_spec = parse_dataset_spec(cfg.data)
    if data_spec.kind != cfg.task.data_kind:
        raise ConfigError(
            f"task={cfg.task.name} needs a {cfg.task.data_kind!r} dataset but data={data_spec.name} "
            f"is {data_spec.kind!r}; pick a dataset whose kind is {cfg.task.data_kind!r}"
        )
    pooling = cfg.task.module.get("pooling")
    if pooling is not None and pooling not in POOLINGS:
        raise ConfigError(f"task.module.pooling={pooling!r} is not known; choose one of {', '.join(POOLINGS)}")
    if cfg.task.data_kind == "text" and spec.bidirectional:
        raise ConfigError(
            "task=generation cannot use a bidirectional LSTM (it would see the characters it "
            "has to predict); use model=lstm or model=seed"
        )
    return spec


def build_datamodule(cfg: DictConfig) -> TextDataModule:
    data_cls = DATA_MODULES[parse_dataset_spec(cfg.data).kind]
    return data_cls(cfg.data, cache_dir=cfg.paths.cache_dir, seed=cfg.seed)


def build_task(cfg: DictConfig, spec: LSTMSpec, datamodule: TextDataModule) -> ZooTask:
    """The LightningModule, sized by the data module (no size is written in a config)."""
    factory = instantiate(cfg.task.module)
    sizes: dict[str, Any] = dict(datamodule.sizes())
    if isinstance(datamodule, ClassificationDataModule):
        sizes["class_names"] = list(datamodule.classes)
    assert datamodule.tokenizer is not None
    return factory(model=spec.to_dict(), tokenizer_json=datamodule.tokenizer.to_str(), **sizes)


def build_callbacks(cfg: DictConfig) -> list[Callback]:
    return [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def build_trainer(cfg: DictConfig, logger: Any, callbacks: list[Callback]) -> L.Trainer:
    try:
        return instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    except InstantiationException as err:  # e.g. trainer=gpu without a GPU, a bad precision
        cause = err.__cause__ or err
        raise ConfigError(f"the trainer config is invalid: {str(cause).strip().splitlines()[0]}") from None


def run_name(spec: LSTMSpec) -> str:
    direction = "bi" if spec.bidirectional else ""
    return f"{direction}{spec.variant}-L{spec.num_layers}-H{spec.hidden_size}"
