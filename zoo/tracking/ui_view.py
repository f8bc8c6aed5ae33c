"""The MLflow UI opened where a model trainer wants it: the runs table with metric columns.

MLflow 3.17's UI starts in its GenAI mode: clicking an experiment lands on the Traces
overview whatever the experiment's `mlflow.experimentKind` tag says, because the sidebar's
"GenAI | Model training" switch (kept in the browser, `workflowType` in the URL) decides.
Its runs table shows no metric column until someone picks them. So every experiment gets a
saved view (the UI's "Views" menu; an experiment tag `mlflow.sharedViewState.<id>` holding
the view as JSON, the format the UI itself writes) with the task's metrics and the recipe's
shape as columns, and the links the zoo prints open the training mode on that view.
"""

from __future__ import annotations

import json
import time
from typing import Any

from zoo.tracking.reach import is_server

VIEW_ID = "lstm-zoo"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_ID}"
VIEW_NAME = "lstm-zoo: metrics"
TRAINING_MODE = "workflowType=machine_learning"  # the UI's WorkflowType.MACHINE_LEARNING
DEFAULT_UI = "http://127.0.0.1:5000"             # where `make ui` serves an embedded store
PARAMS = ("model.encoder", "model.num_layers", "model.hidden_size", "task.module.optimizer.lr")


def column(kind: str, key: str) -> str:
    """A runs-table column id as the UI spells it: metrics.`val/acc`, params.`model.encoder`."""
    return f"{kind}.`{key}`"


def view_state(monitor: str) -> dict[str, Any]:
    """The runs table of a training experiment: newest first, val/best and the monitored
    metric, its test counterpart, the train loss and throughput, then the recipe's shape."""
    test = "test/" + monitor.split("/", 1)[-1]
    metrics = dict.fromkeys(["val/best", monitor, test, "train/loss", "perf/train_tokens_per_s", "model/params"])
    return {
        "searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False, "startTime": "ALL",
        "lifecycleFilter": "Active", "datasetsFilter": [], "modelVersionFilter": "All Runs",
        "selectedColumns": [*(column("metrics", m) for m in metrics), *(column("params", p) for p in PARAMS)],
        "columnOrder": [], "columnWidths": {}, "runsExpanded": {}, "runsPinned": [], "runsHidden": [],
        "runsVisibilityMap": {}, "runsHiddenMode": "FIRST_10_RUNS", "viewMaximized": False, "runListHidden": False,
        "groupBy": None, "groupsExpanded": {}, "hideEmptyCharts": True, "useGroupedValuesInCharts": True,
    }


def view_tag_value(monitor: str, now_ms: int | None = None) -> str:
    """The saved-view envelope the UI reads: {name, createdAt, updatedAt, state (a JSON string)}."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    return json.dumps({"name": VIEW_NAME, "createdAt": stamp, "updatedAt": stamp,
                       "state": json.dumps(view_state(monitor))})


def ui_base(tracking_uri: str) -> str:
    """The UI serving a store: the tracking server itself, or `make ui` for an embedded store."""
    return tracking_uri.rstrip("/") if is_server(tracking_uri) else DEFAULT_UI


def experiment_page(tracking_uri: str, experiment_id: str) -> str:
    """The link to print: the experiment's runs, in the UI's training mode, on the zoo's view."""
    return (f"{ui_base(tracking_uri)}/#/experiments/{experiment_id}/runs?{TRAINING_MODE}"
            f"&viewStateShareKey={VIEW_ID}")
