"""MLflow: stores, run tags, artifacts."""

from zoo.tracking.datasets import log_datasets
from zoo.tracking.orphans import close_orphaned_runs
from zoo.tracking.run_info import run_tags
from zoo.tracking.store import CHECKPOINT_ARTIFACT, TRUNCATED_TAG, create_logger, ensure_experiment, experiment_for

__all__ = ["CHECKPOINT_ARTIFACT", "TRUNCATED_TAG", "close_orphaned_runs", "create_logger", "ensure_experiment",
           "experiment_for", "log_datasets", "run_tags"]
