"""The model zoo: register once, promote on merit, load raw-text models, refuse bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException

from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT
from zoo.registry.bundle import FORMAT, load_bundle
from zoo.registry.gate import promote
from zoo.registry.loading import load_registered
from zoo.registry.pyfunc import ModelInputError, texts_from
from zoo.registry.versions import register_run
from zoo.training.pipeline import run_training

SMALL = ("debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")


@pytest.fixture(scope="module")
def sentiment_runs(base_overrides):
    """Two finished SST-2 runs (different seeds, so different test accuracy)."""
    from zoo.config import compose_config

    return tuple(run_training(compose_config([*base_overrides, "task=sentiment", *SMALL, f"seed={s}"]))
                 for s in (0, 1))


@pytest.fixture(scope="module")
def registered(sentiment_runs, tracking_uri):
    return register_run(sentiment_runs[0].run_id, tracking_uri)


def test_register_once_with_tags_and_alias(sentiment_runs, registered, tracking_uri, mlflow_client) -> None:
    assert registered.name == "sst2-sentiment" and registered.created
    again = register_run(sentiment_runs[0].run_id, tracking_uri)
    assert (again.version, again.created) == (registered.version, False)
    versions = mlflow_client.search_model_versions(f"name='sst2-sentiment' and run_id='{sentiment_runs[0].run_id}'")
    assert len(versions) == 1
    version = mlflow_client.get_model_version("sst2-sentiment", registered.version)
    for key in ("encoder", "depth", "width", "params", "test_acc", "run_id", "git_commit", "seed",
                "data.sha256.train.tsv"):
        assert version.tags.get(key), key
    assert version.tags["width"] == "16" and "test_acc" in version.description
    assert str(mlflow_client.get_model_version_by_alias("sst2-sentiment", "challenger").version) == registered.version


def test_promotion_goes_to_the_better_test_metric(sentiment_runs, registered, tracking_uri, mlflow_client) -> None:
    second = register_run(sentiment_runs[1].run_id, tracking_uri)
    accs = {v: float(mlflow_client.get_model_version("sst2-sentiment", v).tags["test_acc"])
            for v in (registered.version, second.version)}
    assert accs[registered.version] != accs[second.version]  # two seeds: one is better
    worse, better = sorted(accs, key=accs.get)
    if "champion" in mlflow_client.get_registered_model("sst2-sentiment").aliases:  # start from no champion
        mlflow_client.delete_registered_model_alias("sst2-sentiment", "champion")
    assert "(no champion before)" in promote("sst2-sentiment", worse, tracking_uri)
    promoted = promote("sst2-sentiment", better, tracking_uri)
    assert promoted.startswith(f"promoted sst2-sentiment v{better} to champion: test/acc {accs[better]:.4f} "
                               f"over v{worse} (test/acc {accs[worse]:.4f})")
    kept = promote("sst2-sentiment", worse, tracking_uri)
    assert kept == (f"kept champion sst2-sentiment v{better} (test/acc {accs[better]:.4f}); "
                    f"v{worse} has test/acc {accs[worse]:.4f}")
    assert str(mlflow_client.get_model_version_by_alias("sst2-sentiment", "champion").version) == better
    assert "already the champion" in promote("sst2-sentiment", better, tracking_uri)


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_promote_and_register_commands(sentiment_runs, registered, tracking_uri) -> None:
    def cli(module: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", module, *args, f"tracking_uri={tracking_uri}"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)

    again = cli("zoo.register", f"run_id={sentiment_runs[0].run_id}")
    assert again.returncode == 0, again.stderr[-1500:]
    assert f"sst2-sentiment v{registered.version}" in again.stdout  # the same run: no second version
    promoted = cli("zoo.promote", "model=sst2-sentiment", f"version={registered.version}")
    assert promoted.returncode == 0 and "champion" in promoted.stdout
    unknown = cli("zoo.promote", "model=sst2-sentiment", "version=99")
    assert unknown.returncode == 2 and "error: sst2-sentiment has no version or alias '99'" in unknown.stderr
    missing = cli("zoo.register", "run_id=0123456789abcdef")
    assert missing.returncode == 2 and "error: no MLflow run '0123456789abcdef'" in missing.stderr


def test_registered_model_takes_raw_text(registered, tracking_uri) -> None:
    model = load_registered(f"models:/{registered.name}/{registered.version}", tracking_uri)
    texts = ["a gripping film", "a dull , lifeless mess"]
    frame = model.predict(pd.DataFrame({"text": texts}))
    assert list(frame.columns) == ["label", "label_name", "probabilities"]
    assert set(frame["label_name"]) <= {"negative", "positive"}
    assert all(abs(sum(p) - 1) < 1e-4 for p in frame["probabilities"])
    with_ids = pd.DataFrame({"id": ["a dull , lifeless mess", "a gripping film"], "text": texts})
    pd.testing.assert_frame_equal(model.predict(with_ids), frame)  # the `text` column, wherever it is


@pytest.mark.parametrize(("bad", "message"), [
    (pd.DataFrame({"text": pd.Series([], dtype=object)}), "input is empty: give at least one text"),
    (pd.DataFrame({"text": ["fine", "  "]}), r"input rows \[1\] are empty or blank"),
    (pd.DataFrame({"text": [3]}), r"input rows \[0\] are not strings \(got int\)"),  # our check, not str(3)
    (pd.DataFrame({"review": ["a film"]}), r"missing inputs \['text'\]"),
])
def test_bad_model_input_is_a_clear_error(registered, tracking_uri, bad, message: str) -> None:
    model = load_registered(f"models:/{registered.name}/{registered.version}", tracking_uri)
    with pytest.raises(MlflowException, match=message):
        model.predict(bad)


def test_a_registered_model_loads_anywhere_with_plain_mlflow(registered, tracking_uri, tmp_path: Path) -> None:
    """No repo checkout as working directory, no config on disk: MLflow and the installed package."""
    code = ("import mlflow, pandas as pd; "
            f"m = mlflow.pyfunc.load_model('models:/{registered.name}/{registered.version}'); "
            "print(m.predict(pd.DataFrame({'text': ['a gripping film']}))['label_name'][0])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")} | {"MLFLOW_TRACKING_URI": tracking_uri}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip().splitlines()[-1] in ("positive", "negative")


def test_model_input_rules() -> None:
    assert texts_from(["a", "b"]) == ["a", "b"] and texts_from("one") == ["one"]
    with pytest.raises(ModelInputError, match=r"input rows \[1\] are not strings \(got int\)"):
        texts_from(["a", 3])
    with pytest.raises(ModelInputError, match="input needs a 'text' column; got columns"):
        texts_from(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    assert isinstance(ModelInputError("x"), ZooError)  # our CLIs print it as one line


def test_unknown_names_aliases_and_versions_say_what_exists(registered, tracking_uri) -> None:
    with pytest.raises(ZooError, match="no registered model 'imdb-sentiment'; registered models: .*sst2-sentiment"):
        load_registered("models:/imdb-sentiment@champion", tracking_uri)
    with pytest.raises(ZooError, match=r"no version or alias 'gold'.*versions \[.*aliases"):
        load_registered("models:/sst2-sentiment@gold", tracking_uri)
    with pytest.raises(ZooError, match="no version or alias '99'"):
        load_registered("models:/sst2-sentiment/99", tracking_uri)
    with pytest.raises(ZooError, match="must look like models:/<name>@<alias>"):
        load_registered("sst2-sentiment", tracking_uri)


def test_bundles_load_weights_only(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # would run a command if unpickled
            return (print, ("unpickled!",))

    hostile = tmp_path / "bundle.pt"
    torch.save({"format": FORMAT, "payload": Payload()}, hostile)
    with pytest.raises(ZooError, match="not a readable lstm-zoo bundle"):
        load_bundle(hostile)
    with pytest.raises(ZooError, match="artifacts are missing"):
        load_bundle(tmp_path / "gone.pt")


def test_missing_artifacts_fail_with_a_message(sentiment_runs, base_overrides, tracking_uri, mlflow_client) -> None:
    from zoo.config import compose_config

    run = run_training(compose_config([*base_overrides, "task=classification", *SMALL]))
    entry = register_run(run.run_id, tracking_uri, alias=None)
    source = mlflow_client.get_model_version(entry.name, entry.version).source
    local = Path(mlflow.artifacts.download_artifacts(source))  # local store: the files themselves
    for bundle in local.rglob("bundle.pt"):
        bundle.unlink()
    with pytest.raises(ZooError, match="cannot be loaded|artifacts are missing"):
        load_registered(f"models:/{entry.name}/{entry.version}", tracking_uri).predict(
            pd.DataFrame({"text": ["what is it ?"]}))


def test_language_model_generates_with_params(base_overrides, tracking_uri) -> None:
    from zoo.config import compose_config

    run = run_training(compose_config([*base_overrides, "task=generation", "model.num_layers=1", *SMALL]))
    entry = register_run(run.run_id, tracking_uri)
    model = load_registered(f"models:/{entry.name}@challenger", tracking_uri)
    params = {"max_new_tokens": 25, "temperature": 0.8, "top_k": 5, "seed": 7}
    prompt = pd.DataFrame({"text": ["ROMEO:"]})
    first = model.predict(prompt, params=params)
    assert len(first["generated"][0]) == 25
    assert first.equals(model.predict(prompt, params=params))  # the seed fixes the sample
    with pytest.raises(MlflowException, match="top_k >= 0"):
        model.predict(prompt, params={**params, "top_k": -1})


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_predict_cli_writes_json_lines(registered, tracking_uri) -> None:
    command = [sys.executable, "-m", "zoo.predict", f"model=models:/{registered.name}/{registered.version}",
               f"tracking_uri={tracking_uri}"]
    one = subprocess.run([*command, "text=a gripping film"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120)
    assert one.returncode == 0, one.stderr[-1500:]
    many = subprocess.run([*command, "file=-"], input="a gripping film\n\nflat and dull\n", cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    records = [json.loads(line) for line in many.stdout.splitlines()]
    assert [r["text"] for r in records] == ["a gripping film", "flat and dull"]
    assert records[0] == json.loads(one.stdout.splitlines()[0])
    empty = subprocess.run([*command, "file=-"], input="\n", cwd=PROJECT_ROOT, capture_output=True, text=True,
                           timeout=120)
    assert empty.returncode == 2 and "error: no text to predict" in empty.stderr


def test_reproduce_gives_the_same_test_metric(registered, tracking_uri, this_machine, workdir: Path) -> None:
    from zoo.registry.reproduction import reproduce

    outcome = reproduce(f"models:/{registered.name}/{registered.version}", tracking_uri)
    assert outcome.metric == "test/acc"
    assert f"{outcome.difference:.4f}" in ("0.0000", "-0.0000")
    params = mlflow.MlflowClient(tracking_uri).get_run(outcome.run_id).data.params
    original = mlflow.MlflowClient(tracking_uri).get_run(outcome.original_run_id).data.params
    for key in ("paths.output_dir", "callbacks.model_checkpoint.dirpath"):  # a fresh folder, not the original's
        assert params[key].startswith(str(workdir / "reproduced")) and params[key] != original[key]


def test_reproduce_trains_with_the_thread_count_the_run_recorded(registered, tracking_uri, mlflow_client,
                                                                 this_machine, monkeypatch) -> None:
    """CPU results depend on the torch thread count (README, Model zoo): the re-training uses
    the original run's `torch.threads`, and this process's count comes back afterwards."""
    import torch

    from zoo.registry import reproduction

    run_id = mlflow_client.get_model_version(registered.name, registered.version).run_id
    recorded = mlflow_client.get_run(run_id).data.tags["torch.threads"]
    before = torch.get_num_threads()
    wanted = 3 if before != 3 else 2
    seen: list[int] = []

    def training(cfg, extra_tags):  # the real one is run by test_reproduce_gives_the_same_test_metric
        seen.append(torch.get_num_threads())
        return SimpleNamespace(metrics={"test/acc": 0.5}, run_id="new")

    monkeypatch.setattr(reproduction, "run_training", training)
    mlflow_client.set_tag(run_id, "torch.threads", str(wanted))
    try:
        outcome = reproduction.reproduce(f"models:/{registered.name}/{registered.version}", tracking_uri)
    finally:
        mlflow_client.set_tag(run_id, "torch.threads", recorded)
    assert seen == [wanted] and outcome.threads == wanted
    assert torch.get_num_threads() == before


def test_reproduce_refuses_when_the_data_changed(registered, tracking_uri, mlflow_client, this_machine) -> None:
    from zoo.registry.reproduction import reproduce

    run_id = mlflow_client.get_model_version(registered.name, registered.version).run_id
    mlflow_client.set_tag(run_id, "data.sha256.dev.tsv", "0" * 64)  # as if dev.tsv had been edited since
    try:
        with pytest.raises(ZooError, match=r"the data changed since run .*dev.tsv: trained on 000000000000"):
            reproduce(f"models:/{registered.name}/{registered.version}", tracking_uri)
    finally:
        mlflow_client.set_tag(run_id, "data.sha256.dev.tsv",
                              mlflow_client.get_model_version(registered.name, registered.version).tags[
                                  "data.sha256.dev.tsv"])


def test_a_registered_model_logs_its_code_and_requirements(registered, tracking_uri, tmp_path: Path) -> None:
    """Portable: the zoo code travels with the model (`code_paths`), and its requirements pin
    every distribution that code imports (tests/test_portable_model.py loads it in a fresh venv)."""
    from zoo.registry.versions import RUNTIME_PACKAGES

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{registered.name}/{registered.version}",
                                                     dst_path=str(tmp_path / "model"), tracking_uri=tracking_uri))
    requirements = (local / "requirements.txt").read_text().splitlines()
    assert {r.split("==")[0] for r in requirements if "==" in r} == set(RUNTIME_PACKAGES)
    code = local / "code" / "zoo"
    assert (code / "registry" / "pyfunc.py").is_file() and (code / "tasks" / "inference.py").is_file()
    assert not list(code.rglob("__pycache__"))
