"""Resolve and load registered models by URI, with errors that say what does exist."""

from __future__ import annotations

import logging
import re

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from zoo.errors import ZooError
from zoo.registry.versions import resolve_version
from zoo.tracking.reach import check_store

log = logging.getLogger(__name__)
URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


def default_tracking_uri() -> str:
    """The store `zoo.train` writes to: MLFLOW_TRACKING_URI or the embedded mlflow.db."""
    from zoo.config import compose_config

    return str(compose_config([]).logger.tracking_uri)


def reading_store(tracking_uri: str | None = None) -> str:
    """The store a reading command (predict, generate, register, promote, reproduce, serve) uses, checked now:
    a server answers, an embedded store exists (a typo must not create a new one)."""
    uri = tracking_uri or default_tracking_uri()
    check_store(uri, reading=True)
    return uri


def check_registered(uri: str, tracking_uri: str | None = None) -> str:
    """`uri` (`models:/<name>@<alias>` or `models:/<name>/<version>`) names a registered version
    in the store; returns that store's URI, or raises a ZooError listing what exists."""
    match = URI.match(uri or "")
    if not match:
        raise ZooError(f"model={uri!r} must look like models:/<name>@<alias> or models:/<name>/<version>, "
                       "e.g. models:/sst2-sentiment@champion")
    tracking_uri = reading_store(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    version = resolve_version(client, match["name"], match["alias"] or match["version"])
    if match["alias"] and version.tags.get("format") == "onnx":
        note_stale_export(client, version, match["alias"])
    return tracking_uri


def note_stale_export(client: mlflow.MlflowClient, export: ModelVersion, alias: str) -> None:
    """An export takes its source's aliases when it is made (zoo.registry.export); say so when the
    source's alias has moved on since, e.g. after a promotion, and how to follow it."""
    source, exported = export.tags.get("source_model", ""), export.tags.get("source_version", "")
    try:
        now = str(client.get_model_version_by_alias(source, alias).version)
    except MlflowException:
        now = None
    if now != exported:
        where = f"is now v{now}" if now else "names no version now"
        log.warning("note: models:/%s@%s is the export of %s v%s, but %s@%s %s; to follow it: zoo-export "
                    "model=models:/%s@%s", export.name, alias, source, exported, source, alias, where, source, alias)


def load_registered(uri: str, tracking_uri: str | None = None) -> mlflow.pyfunc.PyFuncModel:
    """Load `models:/<name>@<alias>` or `models:/<name>/<version>` as a pyfunc."""
    mlflow.set_tracking_uri(check_registered(uri, tracking_uri))
    try:
        return mlflow.pyfunc.load_model(uri)
    except ZooError:
        raise
    except (MlflowException, OSError) as err:
        raise ZooError(f"{uri} is registered but its artifacts cannot be loaded: {str(err).splitlines()[0]}; "
                       "re-register its run (python -m zoo.register run_id=...)") from None


def generates(model: mlflow.pyfunc.PyFuncModel) -> bool:
    """Whether a loaded model is a language model: its params include generation's (a
    classifier's params, if any, are others, e.g. `explain`)."""
    schema = model.metadata.get_params_schema()
    return schema is not None and any(p.name == "max_new_tokens" for p in schema.params)
