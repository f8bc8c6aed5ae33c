"""Against real servers on loopback: an MLflow tracking server, and `zoo-serve` (MLflow's
scoring server under uvicorn, refusals in one line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from helpers.servers import free_port, running, serving
from mlflow.pyfunc import scoring_server

from zoo.config import compose_config
from zoo.predict import predict_records
from zoo.registry.batching import plain_texts
from zoo.registry.loading import load_registered
from zoo.registry.versions import register_run
from zoo.training.pipeline import run_training

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
SMALL = ("debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_train_register_and_load_through_a_tracking_server(base_overrides, tmp_path: Path) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
               "--artifacts-destination", str(tmp_path / "artifacts")]
    with running(command, f"{uri}/health"):
        run = run_training(compose_config([*base_overrides, "task=sentiment", *SMALL, f"logger.tracking_uri={uri}"]))
        client = mlflow.MlflowClient(uri)
        assert client.get_run(run.run_id).info.status == "FINISHED"
        assert {a.path for a in client.list_artifacts(run.run_id)} >= {"config.yaml", "checkpoints"}
        entry = register_run(run.run_id, uri)
        model = load_registered(f"models:/{entry.name}@challenger", uri)
        answer = model.predict(pd.DataFrame({"text": ["a gripping film"]}))
        assert list(answer.columns) == ["label", "label_name", "probabilities"]
    assert any((tmp_path / "artifacts").rglob("bundle.pt"))  # artifacts went through the server


def _post(url: str, payload: dict[str, Any]) -> list[int]:
    request = urllib.request.Request(f"{url}/invocations", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return [row["label"] for row in json.loads(response.read())["predictions"]]


def test_served_model_answers_like_zoo_predict(base_overrides, tracking_uri, tmp_path: Path) -> None:
    run = run_training(compose_config([*base_overrides, "task=sentiment", *SMALL, "seed=3"]))
    entry = register_run(run.run_id, tracking_uri, alias="serving")
    model_uri = f"models:/{entry.name}@serving"
    texts = ["a gripping film", "flat , dull and far too long"]
    expected = predict_records(load_registered(model_uri, tracking_uri), texts)
    with serving(model_uri, tracking_uri) as url:
        with_ids = pd.DataFrame({"id": ["x", "y"], "text": texts})  # extra columns are ignored
        for payload in ({"dataframe_split": with_ids.to_dict(orient="split")},
                        {"dataframe_records": [{"text": t} for t in texts]},
                        {"inputs": {"text": texts}}):
            request = urllib.request.Request(f"{url}/invocations",
                                             data=json.dumps(payload).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())["predictions"]
            assert [{"text": t, **row} for t, row in zip(texts, answer, strict=True)] == expected
        # the batching lane answers a plain request with the very bytes MLflow's app would send
        pyfunc = mlflow.pyfunc.load_model(model_uri)
        for payload in ({"inputs": {"text": texts}}, {"dataframe_records": [{"text": t} for t in texts]}):
            body = json.dumps(payload).encode()
            assert plain_texts(body) == texts
            mlflow_answer = scoring_server.invocations(body, "application/json", pyfunc,
                                                       pyfunc.metadata.get_input_schema()).response
            request = urllib.request.Request(f"{url}/invocations", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.read() == mlflow_answer.encode()
        with ThreadPoolExecutor(8) as pool:  # concurrent clients, batched together, each gets its own answer
            answers = list(pool.map(lambda i: _post(url, {"inputs": {"text": [texts[i % 2]] * (i + 1)}}), range(16)))
        assert all(a == [expected[i % 2]["label"]] * (i + 1) for i, a in enumerate(answers))
        empty = {"dataframe_split": {"columns": ["text"], "data": []}}
        request = urllib.request.Request(f"{url}/invocations", data=json.dumps(empty).encode(),
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400  # the client's mistake, in our words, not a stack trace
        body = json.loads(refused.value.read())
        assert "input is empty" in body["message"] and "stack_trace" not in body
        # MLflow's own parser refuses a CSV body that is JSON with its traceback; zoo-serve in one line
        request = urllib.request.Request(f"{url}/invocations", data=b'{"dataframe_records": []}',
                                         headers={"Content-Type": "text/csv"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        body = json.loads(refused.value.read())
        assert refused.value.code == 400 and "stack_trace" not in body and "\n" not in body["message"], body
        assert body["message"].startswith("Failed to parse input as a Pandas DataFrame")


def test_the_load_test_needs_a_model_and_measures_a_process_tree() -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "load_test.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "usage: load_test.py model=models:/NAME@ALIAS" in result.stderr
    sys.path.insert(0, str(script.parent))
    try:
        from load_test import tree_rss_mb
    finally:
        sys.path.remove(str(script.parent))
    assert 10 < tree_rss_mb(os.getpid()) < 20_000  # this test process, in MB
