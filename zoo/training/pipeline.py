"""One training run: config -> data -> model -> fit -> test -> MLflow. Used by `zoo.train`
and by every sweep trial, so both train the same way."""

from __future__ import annotations

import errno
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, Timer
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf

from zoo import interrupts
from zoo.config import flatten
from zoo.errors import ZooError
from zoo.secrets import mask, masked_values
from zoo.tracking import CHECKPOINT_ARTIFACT, TRUNCATED_TAG, close_orphaned_runs, create_logger, log_datasets, run_tags
from zoo.training.builders import (
    build_callbacks,
    build_datamodule,
    build_task,
    build_trainer,
    check_config,
    check_outputs,
    warn_emulated_bf16,
)
from zoo.training.cpu_time import CpuTime
from zoo.training.latency import inference_ms
from zoo.training.summary import TrainResult

warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")  # inside Lightning 2.6


def _log_run_inputs(logger: MLFlowLogger, cfg: DictConfig, num_parameters: int, sizes: dict) -> None:
    container = OmegaConf.to_container(cfg, resolve=True)
    logger.log_hyperparams(masked_values(flatten(container)))  # no credential (tracking URI password) in clear
    logger.log_hyperparams({f"data.size.{k}": v for k, v in sizes.items()})
    logger.experiment.log_text(logger.run_id, mask(OmegaConf.to_yaml(container)), "config.yaml")
    logger.log_metrics({"model/params": num_parameters}, step=0)


def _log_run_outputs(logger: MLFlowLogger, datamodule, checkpoint: str | None, output_dir: Path,
                     log_checkpoint: bool) -> None:
    tokenizer_path = datamodule.save_tokenizer(output_dir / "tokenizer.json")
    logger.experiment.log_artifact(logger.run_id, str(tokenizer_path), "tokenizer")
    if not (checkpoint and log_checkpoint):
        return
    folder, name = CHECKPOINT_ARTIFACT.rsplit("/", 1)
    if Path(checkpoint).name == name:
        logger.experiment.log_artifact(logger.run_id, checkpoint, folder)
        return
    with tempfile.TemporaryDirectory() as tmp:  # a renamed ModelCheckpoint file: upload it under the contract name
        shutil.copyfile(checkpoint, Path(tmp) / name)
        logger.experiment.log_artifact(logger.run_id, str(Path(tmp) / name), folder)


def out_of_space(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(ZooError):
    """A full disk as one line: which file, in which of the run's folders, and where else to write."""

    def __init__(self, err: OSError, cfg: DictConfig) -> None:
        path = str(err.filename or "")
        artifacts = str(cfg.logger.get("artifact_root") or "")
        where = ("the MLflow artifact root (logger.artifact_root)" if artifacts and path.startswith(artifacts)
                 else "the run folder (paths.log_dir)")
        super().__init__(f"no space left on the device while writing {path or 'a file'} in {where}; the run is "
                         "marked FAILED and the previous best checkpoint is kept; free space there or point "
                         "paths.log_dir / logger.artifact_root at another disk")


def cut_by_time(trainer: L.Trainer) -> bool:
    """Whether `trainer.max_time` ended training: such a run saw as many batches as the machine
    managed, so it is not reproducible elsewhere (tagged `zoo.truncated`, refused by benchmarks
    and promotion)."""
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]
    return any((t.time_remaining() or 0.0) <= 0 for t in timers)


def run_training(
    cfg: DictConfig,
    extra_callbacks: Sequence[Callback] = (),
    extra_tags: dict[str, str] | None = None,
    run_id: str | None = None,
) -> TrainResult:
    """Train, test and track one run. Config and data errors surface before the MLflow run
    starts; any failure after it starts marks the run FAILED and re-raises. With `run_id`
    the run logs into that existing MLflow run (a sweep's child run)."""
    start = time.perf_counter()
    cfg = cfg.copy()
    OmegaConf.resolve(cfg)  # fix timestamps and env lookups once for the whole run
    spec = check_config(cfg)
    check_outputs(cfg)
    spec.warn_unused()
    warn_emulated_bf16(cfg)
    datamodule = build_datamodule(cfg)
    fingerprints = datamodule.check_files()
    L.seed_everything(cfg.seed, workers=True)
    datamodule.setup()
    L.seed_everything(cfg.seed, workers=True)
    module = build_task(cfg, spec, datamodule)
    callbacks = [*build_callbacks(cfg), CpuTime(cfg.task.monitor, cfg.task.monitor_mode), *extra_callbacks]
    for orphan in close_orphaned_runs(cfg.logger.tracking_uri):
        print(f"closed run {orphan} as KILLED: the process that ran it on this host is gone", flush=True)
    logger = create_logger(cfg, spec.label(), run_tags(cfg.seed, fingerprints, extra_tags), run_id)
    trainer = build_trainer(cfg, logger, callbacks)
    output_dir = Path(cfg.paths.output_dir)
    try:
        _log_run_inputs(logger, cfg, module.num_parameters(), datamodule.split_sizes())
        log_datasets(logger.experiment, logger.run_id, datamodule.spec, fingerprints, datamodule.split_sizes(),
                     test=bool(cfg.get("test", True)))
        trainer.fit(module, datamodule=datamodule)
        truncated = cut_by_time(trainer)
        if truncated:
            logger.experiment.set_tag(logger.run_id, TRUNCATED_TAG, "true")
        checkpoint_cb = trainer.checkpoint_callback
        best_checkpoint = None
        best_value = None
        if isinstance(checkpoint_cb, ModelCheckpoint) and checkpoint_cb.best_model_path:
            best_checkpoint = checkpoint_cb.best_model_path
            best_value = float(checkpoint_cb.best_model_score)
            logger.log_metrics({"val/best": best_value})  # the monitored metric at the kept checkpoint
        metrics: dict[str, float] = {}
        if cfg.get("test", True):
            results = trainer.test(module, datamodule=datamodule, ckpt_path=best_checkpoint, verbose=False)
            metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
        metrics["perf/inference_ms"] = inference_ms(module, next(iter(datamodule.val_dataloader())))
        logger.log_metrics({"perf/inference_ms": metrics["perf/inference_ms"]})
        _log_run_outputs(logger, datamodule, best_checkpoint, output_dir, bool(cfg.logger.get("log_checkpoint", True)))
        logger.experiment.set_terminated(logger.run_id, "FINISHED")
    except BaseException as err:  # an error FAILED; SIGTERM/SIGINT (zoo.interrupts) KILLED
        logger.experiment.set_terminated(logger.run_id, "KILLED" if interrupts.received() else "FAILED")
        if out_of_space(err):
            raise DiskFullError(err, cfg) from None
        raise
    return TrainResult(
        run_id=logger.run_id,
        experiment_name=cfg.logger.experiment_name,
        experiment_id=logger.experiment_id or "",
        tracking_uri=cfg.logger.tracking_uri,
        monitor=cfg.task.monitor,
        best_value=best_value,
        metrics=metrics,
        best_checkpoint=best_checkpoint,
        output_dir=str(output_dir),
        num_parameters=module.num_parameters(),
        seconds=time.perf_counter() - start,
        truncated=truncated,
    )
