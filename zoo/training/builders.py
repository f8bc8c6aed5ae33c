"""Turn a composed config into the pieces of a run, checking the config before data loads."""

from __future__ import annotations

import warnings
from inspect import signature
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from zoo.data import parse_dataset_spec
from zoo.data.base import TextDataModule
from zoo.errors import ConfigError
from zoo.models import EncoderSpec
from zoo.models.encoder import onednn_supports
from zoo.models.encoders import describe
from zoo.models.networks import check_encoder_pooling
from zoo.models.pooling import check_pooling
from zoo.paths import ensure_folder
from zoo.tasks import ZooTask, kind_of_config
from zoo.tracking.reach import check_store
from zoo.training.limits import check_limits


def check_config(cfg: DictConfig) -> EncoderSpec:
    """Every check that needs no data: hyperparameters, and task, data and encoder fit together."""
    kind = kind_of_config(cfg)
    kind.check_encoder(str(cfg.model.get("encoder")), cfg.task.name)
    spec = EncoderSpec.from_config(cfg.model)
    check_limits(cfg)
    kind.check_content(parse_dataset_spec(cfg.data), f"task={cfg.task.name}")
    target = cfg.task.module.get("_target_")
    if target is not None and not issubclass(get_class(target), kind.task_module):
        raise ConfigError(f"task.module._target_={target} is not a {kind.task_module.__name__}, the module of "
                          f"task kind {kind.name!r} (task.kind)")
    if cfg.task.module.get("pooling") is not None:
        check_pooling(cfg.task.module.pooling)
        if "pooling" not in signature(kind.task_module.__init__).parameters:
            raise ConfigError(f"task={cfg.task.name} pools nothing (it predicts every step), so "
                              f"task.module.pooling={cfg.task.module.pooling} does not apply: drop it")
    kind.check_model(spec, cfg)
    check_fused_clipping(cfg)
    pooling = task_pooling(cfg, spec)
    if pooling is not None:
        check_encoder_pooling(spec, pooling)
    return spec


def check_fused_clipping(cfg: DictConfig) -> None:
    """Lightning refuses, deep inside `fit`, to clip the gradients of a fused optimizer under
    mixed precision (it unscales them itself); say so before anything runs."""
    optimizer = cfg.task.module.get("optimizer") or {}
    precision = str(cfg.trainer.get("precision"))
    if optimizer.get("fused") and "mixed" in precision and cfg.trainer.get("gradient_clip_val"):
        raise ConfigError(f"trainer.gradient_clip_val={cfg.trainer.gradient_clip_val} cannot clip a fused optimizer's "
                          f"gradients under trainer.precision={precision}: set task.module.optimizer.fused=false "
                          "(slower steps), or leave the clipping out")


def warn_emulated_bf16(cfg: DictConfig) -> None:
    """bf16 autocast on a CPU without bf16 instructions trains (the recurrence in fp32, see
    `onednn_for_autocast`) but slower than fp32: say so once, before the run."""
    precision, accelerator = str(cfg.trainer.get("precision")), str(cfg.trainer.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if precision.startswith("bf16") and on_cpu and not onednn_supports(torch.bfloat16):
        warnings.warn(f"trainer.precision={precision} on a CPU without bf16 instructions (AVX512-BF16 or AMX): "
                      "it trains, more slowly than fp32; leave trainer.precision at 32 on this machine",
                      UserWarning, stacklevel=2)


def task_pooling(cfg: DictConfig, spec: EncoderSpec) -> str | None:
    """The pooling a classifier's module gets: `task.module.pooling`, or when it is null the
    encoder's own (`last` for a core, `max` for a CNN, `mean` for a bag or a transformer);
    None for a kind that pools nothing."""
    if "pooling" not in signature(kind_of_config(cfg).task_module.__init__).parameters:
        return None
    return cfg.task.module.get("pooling") or describe(spec.encoder).default_pooling


def check_outputs(cfg: DictConfig) -> None:
    """Where a run writes must work before any data loads: the MLflow store (a server answers,
    a folder is writable), the artifact root and the run folder."""
    check_store(str(cfg.logger.tracking_uri), cfg.logger.get("artifact_root"))
    ensure_folder(Path(cfg.paths.log_dir), "log folder", "set ZOO_LOG_DIR or paths.log_dir= to a writable folder")


def build_datamodule(cfg: DictConfig) -> TextDataModule:
    data_cls = kind_of_config(cfg).data_module
    return data_cls(cfg.data, cache_dir=cfg.paths.cache_dir, seed=cfg.seed)


def build_task(cfg: DictConfig, spec: EncoderSpec, datamodule: TextDataModule) -> ZooTask:
    """The LightningModule, sized by the data module (no size is written in a config) and
    told its kind, which it stores in its checkpoints."""
    kind = kind_of_config(cfg)
    factory = instantiate(cfg.task.module)
    assert datamodule.tokenizer is not None
    pooling = task_pooling(cfg, spec)
    module = factory(model=spec.to_dict(), tokenizer_json=datamodule.tokenizer.to_str(),
                     **kind.module_args(datamodule), **({"pooling": pooling} if pooling else {}))
    module.task_kind = kind.name
    return module


def build_callbacks(cfg: DictConfig) -> list[Callback]:
    return [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def build_trainer(cfg: DictConfig, logger: Any, callbacks: list[Callback]) -> L.Trainer:
    try:
        return instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    except InstantiationException as err:  # e.g. trainer=gpu without a GPU, a bad precision
        cause = err.__cause__ or err
        raise ConfigError(f"the trainer config is invalid: {str(cause).strip().splitlines()[0]}") from None
