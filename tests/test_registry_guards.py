"""Issue 10: the promotion gate is the only way to `champion` (force=true overrides it, saying so),
two concurrent registrations make one version, the served pyfunc refuses non-text, and
generation is capped per text and per request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from zoo.config import compose_config
from zoo.errors import InputError, ZooError
from zoo.paths import PROJECT_ROOT
from zoo.register import main as register_main
from zoo.registry.pyfunc import ModelInputError
from zoo.registry.versions import register_run
from zoo.tasks.inference import Inference, generate
from zoo.training.pipeline import run_training

SMALL = ("task=sentiment", "debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")


@pytest.fixture(scope="module")
def store(base_overrides, tmp_path_factory) -> tuple[str, list[str]]:
    """A store of this module's own (aliases here touch no other test) and two finished runs."""
    folder = tmp_path_factory.mktemp("guards")
    uri = f"sqlite:///{folder}/mlflow.db"
    overrides = [*(o for o in base_overrides if not o.startswith("logger.")), f"logger.tracking_uri={uri}",
                 f"logger.artifact_root={folder}/mlartifacts", *SMALL]
    runs = [run_training(compose_config([*overrides, f"seed={s}"])).run_id for s in (0, 1)]
    return uri, runs


def test_alias_champion_is_refused_without_force_and_force_says_what_it_overrode(store, capsys) -> None:
    uri, (first, second) = store
    with pytest.raises(ZooError, match="alias=champion is set only by the promotion gate"):
        register_run(first, uri, alias="champion")
    with pytest.raises(SystemExit) as refused:
        register_main([f"run_id={first}", "alias=champion", f"tracking_uri={uri}"])
    assert refused.value.code == 2 and "give force=true" in capsys.readouterr().err
    assert register_main([f"run_id={first}", f"tracking_uri={uri}"]) == 0  # the gate: first becomes champion
    assert register_main([f"run_id={second}", "alias=champion", "force=true", f"tracking_uri={uri}"]) == 0
    out = capsys.readouterr().out
    client = mlflow.MlflowClient(uri)
    champion = client.get_model_version_by_alias("sst2-sentiment", "champion")
    assert champion.run_id == second
    assert "FORCED sst2-sentiment v2" in out and "without the promotion gate" in out and "replaced v1 (test/acc" in out


def test_two_concurrent_registrations_of_a_run_make_one_version(base_overrides, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [*(o for o in base_overrides if not o.startswith("logger.")), f"logger.tracking_uri={uri}",
                 f"logger.artifact_root={tmp_path}/mlartifacts", *SMALL]
    run_id = run_training(compose_config(overrides)).run_id
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZOO_TORCH_THREADS": "1"}
    command = [sys.executable, "-m", "zoo.register", f"run_id={run_id}", f"tracking_uri={uri}", "promote=false"]
    processes = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-1500:] for _, err in outputs]
    versions = mlflow.MlflowClient(uri).search_model_versions(f"name='sst2-sentiment' and run_id='{run_id}'")
    assert len(versions) == 1
    assert all(f"sst2-sentiment v{versions[0].version} " in out for out, _ in outputs)


NOT_TEXT = [{"inputs": {"text": [None]}}, {"inputs": {"text": [3]}}, {"inputs": {"text": [True]}},
            {"inputs": {"text": [{"a": 1}]}}, {"inputs": {"text": ["fine", None]}}, {"inputs": [None]},
            {"dataframe_records": [{"text": None}]}, {"dataframe_split": {"columns": ["text"], "data": [[1.5]]}},
            {"instances": [{"text": 7}]}]


def test_served_model_refuses_non_text_on_every_route(store) -> None:
    uri, (first, _) = store
    mlflow.set_tracking_uri(uri)
    entry = register_run(first, uri, alias="serving")
    model = mlflow.pyfunc.load_model(f"models:/{entry.name}@serving")
    schema = model.metadata.get_input_schema()
    for payload in NOT_TEXT:  # what `mlflow models serve` does with the request body
        with pytest.raises(ModelInputError, match="are not strings") as refused:
            scoring_server.invocations(json.dumps(payload), "application/json", model, schema)
        assert isinstance(refused.value, MlflowException) and refused.value.get_http_status_code() == 400
    for payload in ({"inputs": {"text": ["a gripping film", "dull"]}}, {"inputs": ["a gripping film", "dull"]},
                    {"dataframe_records": [{"text": "a gripping film"}, {"text": "dull"}]}):
        answer = scoring_server.invocations(json.dumps(payload), "application/json", model, schema)
        assert answer.status == 200 and len(json.loads(answer.response)["predictions"]) == 2


def test_generation_is_capped_per_text_and_per_request(monkeypatch) -> None:
    model = Inference(network=None, tokenizer=None, hparams={})  # refused before any work: never touched
    with pytest.raises(InputError, match="max_new_tokens=100000000 is over the limit of 2000 tokens per text"):
        generate(model, ["ROMEO:"], {"max_new_tokens": 100_000_000})
    with pytest.raises(InputError, match="64 texts x 2000 new tokens = 128000 tokens, over the limit of 20000"):
        generate(model, ["ROMEO:"] * 64, {"max_new_tokens": 2000})
    monkeypatch.setenv("ZOO_MAX_NEW_TOKENS", "10")
    with pytest.raises(InputError, match="max_new_tokens=11 is over the limit of 10"):
        generate(model, ["ROMEO:"], {"max_new_tokens": 11})
    monkeypatch.setenv("ZOO_MAX_NEW_TOKENS", "lots")
    with pytest.raises(InputError, match="ZOO_MAX_NEW_TOKENS='lots' must be a whole number"):
        generate(model, ["ROMEO:"], {"max_new_tokens": 5})


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), -1.0])
def test_generation_refuses_a_temperature_that_is_no_finite_number(temperature: float) -> None:
    model = Inference(network=None, tokenizer=None, hparams={})  # refused before any work: never touched
    with pytest.raises(InputError, match="temperature a finite number >= 0"):
        generate(model, ["ROMEO:"], {"max_new_tokens": 5, "temperature": temperature, "top_k": 0, "seed": 0})
