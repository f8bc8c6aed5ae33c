"""A study's MLflow parent run: created with its Optuna study (the study remembers it), set
RUNNING again when the command is rerun, and nested under an enclosing study's run (a
comparison holds its searches and seed benchmarks)."""

from __future__ import annotations

import mlflow
import optuna

from zoo.errors import ConfigError
from zoo.secrets import mask
from zoo.sweeps.orchestration.storage import PARENT_ATTR


def open_parent_run(study: optuna.Study, client: mlflow.MlflowClient, experiment_id: str, run_name: str,
                    tags: dict[str, str], advice: str, nested_under: str | None = None) -> tuple[str, bool]:
    """The study's parent run id, and whether it was created now (the caller then logs what
    describes the study: its spec, its overrides)."""
    run_id = reopen_parent_run(study, client, advice)
    if run_id:
        return run_id, False
    tags = {**tags, **({"mlflow.parentRunId": nested_under} if nested_under else {})}
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id, True


def joined_parent_run(study: optuna.Study, advice: str) -> str:
    """A worker's view: the parent run its launcher made, or an error saying to start one."""
    if PARENT_ATTR not in study.user_attrs:
        raise ConfigError(advice)
    return str(study.user_attrs[PARENT_ATTR])


def reopen_parent_run(study: optuna.Study, client: mlflow.MlflowClient, advice: str) -> str | None:
    """The MLflow parent run the study recorded, set RUNNING again for a resumed run; None
    for a new study. A parent missing from the store is a ConfigError ending in `advice`."""
    run_id = study.user_attrs.get(PARENT_ATTR)
    if not run_id:
        return None
    try:
        client.update_run(run_id, status="RUNNING")
    except mlflow.exceptions.MlflowException:
        raise ConfigError(
            f"study {study.study_name!r} tracks its runs in MLflow run {run_id}, which is not in "
            f"{mask(client.tracking_uri)} (was the MLflow store reset, or MLFLOW_TRACKING_URI changed?); use that "
            f"store again, or {advice}") from None
    return run_id


def close_open_children(client: mlflow.MlflowClient, parent_run_id: str) -> list[str]:
    """Close as FAILED the child runs still RUNNING under a study whose trials have all ended.

    Why: a worker killed between opening its trial's run and recording the run on the trial,
    or while closing it, leaves a run that no trial names, so the heartbeat cannot close it
    (found by the chaos soak). Call only when no trial is RUNNING: then no run is live."""
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    stale = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}' and "
                               "attributes.status = 'RUNNING'", max_results=1000)
    for run in stale:
        client.set_tag(run.info.run_id, "zoo.closed_reason", "its worker stopped before closing it")
        client.set_terminated(run.info.run_id, "FAILED")
    return [run.info.run_id for run in stale]
