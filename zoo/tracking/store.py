"""Where MLflow keeps runs: the embedded SQLite store by default, a server if told."""

from __future__ import annotations

from pathlib import Path

import mlflow
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.entities import RunTag
from omegaconf import DictConfig

from zoo.secrets import masked_values, quiet_run_links

# where a run's best checkpoint lives among its artifacts: what registration builds a model from
CHECKPOINT_ARTIFACT = "checkpoints/best.ckpt"
# set to "true" on a run whose training `trainer.max_time` cut short
TRUNCATED_TAG = "zoo.truncated"


def is_embedded(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str | None) -> str:
    """Experiment id for `name`, creating it with artifacts under `artifact_root` when the
    store is embedded (a tracking server chooses its own artifact location)."""
    quiet_run_links(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if artifact_root and is_embedded(tracking_uri):
        location = (Path(artifact_root) / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def create_logger(cfg: DictConfig, run_name: str, tags: dict[str, str], run_id: str | None = None) -> MLFlowLogger:
    """A Lightning MLFlowLogger on the configured store; a new run starts on first use,
    or the logger writes into the existing run `run_id`."""
    log_cfg = cfg.logger
    ensure_experiment(log_cfg.tracking_uri, log_cfg.experiment_name, log_cfg.artifact_root)
    all_tags = masked_values({**tags, **{k: str(v) for k, v in (log_cfg.tags or {}).items()}})
    logger = MLFlowLogger(
        experiment_name=log_cfg.experiment_name,
        tracking_uri=log_cfg.tracking_uri,
        run_name=log_cfg.run_name or run_name,
        tags=all_tags,
        log_model=False,
        run_id=run_id,
    )
    if run_id is not None:  # tags are applied at creation only; an existing run gets them now
        logger.experiment.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in all_tags.items()])
    return logger


def create_child_run(client: mlflow.MlflowClient, experiment_id: str, parent_run_id: str, name: str,
                     tags: dict[str, str] | None = None) -> str:
    """A run nested under `parent_run_id` (a sweep's trial, a benchmark's seed); returns its id."""
    return client.create_run(experiment_id, run_name=name,
                             tags={"mlflow.parentRunId": parent_run_id, **(tags or {})}).info.run_id
