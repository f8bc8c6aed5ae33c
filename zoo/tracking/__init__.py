"""MLflow: stores, run tags, artifacts.

The names below load on first use (PEP 562): importing one small module of this package, such
as `zoo.tracking.orphans`, must not pull in the data layer and Lightning with it."""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "log_datasets": "zoo.tracking.datasets",
    "close_orphaned_runs": "zoo.tracking.orphans",
    "run_tags": "zoo.tracking.run_info",
    **dict.fromkeys(("CHECKPOINT_ARTIFACT", "TRUNCATED_TAG", "create_logger", "ensure_experiment", "experiment_for"),
                    "zoo.tracking.store"),
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'zoo.tracking' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
