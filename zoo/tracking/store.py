"""Where MLflow keeps runs: the embedded SQLite store by default, a server if told."""

from __future__ import annotations

from pathlib import Path

import mlflow
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.entities import Experiment, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE
from omegaconf import DictConfig

from zoo.secrets import masked_values, quiet_run_links
from zoo.tracking.ui_view import VIEW_TAG, view_tag_value

# where a run's best checkpoint lives among its artifacts: what registration builds a model from
CHECKPOINT_ARTIFACT = "checkpoints/best.ckpt"
# set to "true" on a run whose training `trainer.max_time` cut short
TRUNCATED_TAG = "zoo.truncated"
# MLflow 3's experiment kind (the UI's ExperimentKind.CUSTOM_MODEL_DEVELOPMENT; the Python package
# has no constant for it): the UI then never asks which kind an experiment is. Which page it opens
# on is the UI's own "GenAI | Model training" switch: see zoo/tracking/ui_view.py
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def is_embedded(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def experiment_description(cfg: DictConfig) -> str:
    """What an experiment `<dataset>-<task>` holds, for the MLflow UI's description box."""
    data, task = cfg.data, cfg.task
    content = data.get("content", data.get("kind", "?"))
    return (f"lstm-zoo training runs of task `{task.name}` ({task.get('kind', '?')}) on the `{data.name}` dataset "
            f"({content}, {data.get('source', '?')} source). Each run trains one LSTM recipe "
            f"and logs its curves, `val/best` (the best value of its monitored metric, "
            f"`{task.monitor}` by default), test metrics, dataset inputs and "
            "checkpoint; sweeps are `sweep-*` parent runs with one `tNNN-*` child run per Optuna trial, "
            "benchmarks are `benchmark-*` parent runs with one `sN-*` child run per seed.")


def _ui_tags(client: mlflow.MlflowClient, experiment: Experiment, description: str | None,
             monitor: str | None) -> None:
    """Give an experiment the kind tag, a description and the zoo's saved runs view when it lacks
    them (once: an experiment created before, or by another tool, keeps what someone chose)."""
    kind = experiment.tags.get(EXPERIMENT_KIND_TAG) or ""
    if not kind or kind.endswith("_inferred") or kind == "no_inferred_type":  # a guess, not someone's choice
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    if description and not experiment.tags.get(MLFLOW_RUN_NOTE):
        client.set_experiment_tag(experiment.experiment_id, MLFLOW_RUN_NOTE, description)
    if monitor and VIEW_TAG not in experiment.tags:
        client.set_experiment_tag(experiment.experiment_id, VIEW_TAG, view_tag_value(monitor))


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str | None, description: str | None = None,
                      monitor: str | None = None) -> str:
    """Experiment id for `name`, creating it with artifacts under `artifact_root` when the
    store is embedded (a tracking server chooses its own artifact location). It carries
    MLflow's model-training kind tag, `description`, and a saved runs view with `monitor`'s
    columns (`zoo.tracking.ui_view.experiment_page` links to it); an existing experiment
    without them gets them here."""
    quiet_run_links(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        _ui_tags(client, experiment, description, monitor)
        return experiment.experiment_id
    location = None
    if artifact_root and is_embedded(tracking_uri):
        location = (Path(artifact_root) / name).resolve().as_uri()
    tags = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, **({MLFLOW_RUN_NOTE: description} if description else {}),
            **({VIEW_TAG: view_tag_value(monitor)} if monitor else {})}
    try:
        return client.create_experiment(name, artifact_location=location, tags=tags)
    except MlflowException:  # another worker created it a moment ago
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        _ui_tags(client, experiment, description, monitor)
        return experiment.experiment_id


def experiment_for(cfg: DictConfig) -> str:
    """The id of the experiment a composed config logs to, created or tagged as above."""
    log_cfg = cfg.logger
    return ensure_experiment(log_cfg.tracking_uri, log_cfg.experiment_name, log_cfg.artifact_root,
                             experiment_description(cfg), cfg.task.monitor)


def create_logger(cfg: DictConfig, run_name: str, tags: dict[str, str], run_id: str | None = None) -> MLFlowLogger:
    """A Lightning MLFlowLogger on the configured store; a new run starts on first use,
    or the logger writes into the existing run `run_id`."""
    log_cfg = cfg.logger
    experiment_for(cfg)
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
