"""Every registered core, on every task kind, goes the whole way a recipe goes: trains
(`debug=smoke`), registers, answers over HTTP from `mlflow models serve`, and reproduces
its test metric to 4 decimals. 15 cores x 3 tasks with a server each: `make test-slow`
(`make test` trains every core on every task in tests/test_gated_lstm.py and
tests/test_cores.py, and serves and reproduces `lstm` in tests/test_servers.py and
tests/test_registry.py)."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from servers import free_port, running
from test_cores import smoke_run

from zoo.models.cores import all_cores
from zoo.registry.loading import load_registered
from zoo.registry.reproduction import reproduce
from zoo.registry.versions import register_run
from zoo.training.core_speed import core_overrides

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
HIDDEN = 16
TASKS = {  # task -> (request text, params the pyfunc takes, the column every answer has)
    "sentiment": ("a gripping film", None, "label_name"),
    "classification": ("What is the capital of France ?", None, "label_name"),
    "generation": ("ROMEO:", {"max_new_tokens": 8, "seed": 3}, "generated"),
}


def _serve_once(model_uri: str, tracking_uri: str, text: str, params: dict | None) -> dict:
    """One answer from the model served over HTTP, as a client would get it."""
    port = free_port()
    command = [MLFLOW, "models", "serve", "-m", model_uri, "--env-manager", "local", "-h", "127.0.0.1",
               "-p", str(port)]
    env = {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    payload = {"dataframe_records": [{"text": text}], **({"params": params} if params else {})}
    with running(command, f"http://127.0.0.1:{port}/ping", env=env):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["predictions"][0]


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("core", sorted(all_cores()))
def test_every_core_trains_registers_serves_and_reproduces(core: str, task: str, base_overrides, tmp_path,
                                                           this_machine) -> None:
    model = ["debug=smoke", *core_overrides(core, HIDDEN), f"model.hidden_size={HIDDEN}", "model.embedding_dim=8"]
    run_id, tracking_uri = smoke_run(task, base_overrides, tmp_path, *model)
    entry = register_run(run_id, tracking_uri)
    uri = f"models:/{entry.name}/{entry.version}"
    text, params, column = TASKS[task]
    local = load_registered(uri, tracking_uri).predict(pd.DataFrame({"text": [text]}), params=params)
    served = _serve_once(uri, tracking_uri, text, params)
    assert served[column] == local[column][0] and served[column]  # the server answers as the model does
    outcome = reproduce(uri, tracking_uri)
    assert f"{outcome.difference:.4f}" in ("0.0000", "-0.0000"), (core, task, outcome)
