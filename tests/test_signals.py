"""Real processes stopped by signals: SIGTERM and SIGINT end `zoo.train` and `zoo.sweep` with
143/130, a message, the MLflow run KILLED and the Optuna trial FAIL; a SIGKILLed run is closed
as KILLED by the next run on this host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from zoo.paths import PROJECT_ROOT
from zoo.tracking import close_orphaned_runs
from zoo.tracking.orphans import PID_TAG, REASON_TAG

LONG = ["debug=smoke", "task=sentiment", "model.hidden_size=16", "model.embedding_dim=8",
        "trainer.max_epochs=5", "trainer.limit_train_batches=400"]  # minutes of training: stopped long before


def _store(base_overrides: tuple[str, ...], tmp_path: Path) -> tuple[str, list[str]]:
    """A store of the test's own, and the overrides that use it."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    kept = [o for o in base_overrides if not o.startswith("logger.")]
    return uri, [*kept, f"logger.tracking_uri={uri}", f"logger.artifact_root={tmp_path}/mlartifacts"]


def _start(module: str, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZOO_TORCH_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(condition: Callable[[], object], process: subprocess.Popen, timeout: float = 180) -> object:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited early with {process.returncode}: {process.stdout.read()[-2000:]}")
        try:
            found = condition()
        except Exception:  # noqa: BLE001 - the store or study may not exist yet
            found = None
        if found:
            return found
        time.sleep(0.5)
    process.kill()
    pytest.fail("the process never started training")


def _training_run(uri: str) -> Callable[[], mlflow.entities.Run | None]:
    """A RUNNING run that has logged a training loss: the process is inside `fit`."""
    client = mlflow.MlflowClient(uri)

    def find() -> mlflow.entities.Run | None:
        ids = [e.experiment_id for e in client.search_experiments()]
        for run in client.search_runs(ids, "attributes.status = 'RUNNING'"):
            if client.get_metric_history(run.info.run_id, "train/loss"):
                return run
        return None

    return find


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143),
                                         pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)])
def test_a_signal_stops_training_with_its_status_and_a_killed_run(base_overrides, tmp_path: Path, sig: int,
                                                                  code: int) -> None:
    uri, overrides = _store(base_overrides, tmp_path)
    process = _start("zoo.train", [*overrides, *LONG])
    run = _wait_for(_training_run(uri), process)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == code, output[-2000:]
    assert f"error: stopped by {signal.Signals(sig).name}" in output
    assert mlflow.MlflowClient(uri).get_run(run.info.run_id).info.status == "KILLED"


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_sigterm_fails_the_running_sweep_trial_at_once(base_overrides, tmp_path: Path) -> None:
    uri, overrides = _store(base_overrides, tmp_path)
    storage, study_name = f"sqlite:///{tmp_path}/optuna.db", f"term-{uuid.uuid4().hex[:8]}"
    recipe = "[" + ",".join([*overrides, *LONG]) + "]"
    process = _start("zoo.sweep", ["sweep=sentiment_sst2", f"study_name={study_name}", f"storage={storage}",
                                   "n_trials=2", f"recipe={recipe}", "pruner=none", "confirm=false"])
    _wait_for(_training_run(uri), process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output[-2000:]
    assert "error: stopped by SIGTERM" in output
    study = optuna.load_study(study_name=study_name, storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL]  # failed now, not after a heartbeat
    client = mlflow.MlflowClient(uri)
    assert client.get_run(study.trials[0].user_attrs["mlflow_run_id"]).info.status == "KILLED"
    assert client.get_run(study.user_attrs["mlflow_parent_run_id"]).info.status == "KILLED"


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains `text` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


@pytest.mark.slow  # two training workers: make test-slow
def test_sigterm_to_a_launcher_stops_its_workers_and_closes_their_trials(base_overrides, tmp_path: Path) -> None:
    """A scheduler's kill reaches the launcher alone; its workers must stop with it, not train
    on as orphans, and close their trials and runs as a single process does."""
    uri, overrides = _store(base_overrides, tmp_path)
    storage, study_name = f"sqlite:///{tmp_path}/optuna.db", f"term-{uuid.uuid4().hex[:8]}"
    recipe = "[" + ",".join([*overrides, *LONG]) + "]"
    process = _start("zoo.sweep", ["sweep=sentiment_sst2", f"study_name={study_name}", f"storage={storage}",
                                   "n_trials=4", "workers=2", f"recipe={recipe}", "pruner=none", "confirm=false"])
    client = mlflow.MlflowClient(uri)

    def both_training() -> bool:
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                  "attributes.status = 'RUNNING' and tags.`optuna.trial_number` != ''")
        return sum(bool(client.get_metric_history(r.info.run_id, "train/loss")) for r in runs) == 2

    try:
        _wait_for(both_training, process, timeout=300)
        process.send_signal(signal.SIGTERM)  # the launcher only, not its process group
        output, _ = process.communicate(timeout=200)
        assert process.returncode == 143, output[-2000:]
        assert _processes_naming(study_name) == []  # no orphaned worker
        study = optuna.load_study(study_name=study_name, storage=storage)
        assert sorted(t.state.name for t in study.trials) == ["FAIL", "FAIL"], output[-2000:]
        assert {client.get_run(t.user_attrs["mlflow_run_id"]).info.status for t in study.trials} == {"KILLED"}
    finally:
        for pid in _processes_naming(study_name):
            os.kill(pid, signal.SIGKILL)


def test_a_sigkilled_run_is_closed_by_the_next_run_on_this_host(base_overrides, tmp_path: Path) -> None:
    uri, overrides = _store(base_overrides, tmp_path)
    process = _start("zoo.train", [*overrides, *LONG])
    run = _wait_for(_training_run(uri), process)
    assert run.data.tags[PID_TAG] == str(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    client = mlflow.MlflowClient(uri)
    assert client.get_run(run.info.run_id).info.status == "RUNNING"  # nobody could close it
    assert close_orphaned_runs(uri) == [run.info.run_id]  # what every new training run does first
    closed = client.get_run(run.info.run_id)
    assert closed.info.status == "KILLED" and str(process.pid) in closed.data.tags[REASON_TAG]
    assert close_orphaned_runs(uri) == []
