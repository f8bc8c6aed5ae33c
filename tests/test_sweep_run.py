"""Sweeps for real, on tiny trials: tracking, resume, failures, pruning, Pareto fronts,
a SIGKILL mid-trial, and two workers sharing a PostgreSQL study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pytest
import sqlalchemy
from helpers.servers import server_absent
from omegaconf import OmegaConf
from optuna.trial import TrialState

from zoo.errors import ConfigError
from zoo.paths import PROJECT_ROOT
from zoo.sweeps.search.runner import run_sweep
from zoo.sweeps.search.spec import load_sweep_config, parse_sweep_spec

TINY = ["task=classification", "debug=smoke", "model.embedding_dim=8", "trainer.max_epochs=2",
        "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", "trainer.limit_test_batches=1"]
SPACE = {"model.num_layers": {"type": "int", "low": 1, "high": 2},
         "model.hidden_size": {"type": "int", "low": 4, "high": 16, "log": True},
         "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "condition": "model.num_layers > 1"}}


def _spec(name: str, base_overrides: tuple[str, ...], storage: str, **changes: Any):
    raw = {"study_name": f"{name}-{uuid.uuid4().hex[:8]}", "storage": storage,
           "recipe": [*base_overrides, *TINY],
           "objectives": [{"metric": "val/acc", "direction": "maximize"}],
           "search_space": SPACE, "sampler": {"name": "tpe", "seed": 0}, "pruner": {"name": "none"},
           "n_trials": 3, "max_failures": 5, "confirm": False,
           "register": True, **changes}  # a debug=smoke recipe registers only when asked
    return parse_sweep_spec(name, OmegaConf.create(raw))


@pytest.fixture
def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/optuna.db"


def _children(client: mlflow.MlflowClient, parent: str) -> list[mlflow.entities.Run]:
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")


def test_sweep_tracks_a_parent_with_children_plots_and_resumes(base_overrides, storage, mlflow_client) -> None:
    baseline = {"model.num_layers": 1, "model.hidden_size": 5}
    spec = _spec("track", base_overrides, storage, enqueue=[baseline])
    outcome = run_sweep(spec, [])
    assert outcome.counts["COMPLETE"] == 3
    study = optuna.load_study(study_name=spec.study_name, storage=storage)
    assert study.trials[0].params == baseline  # the known-good point runs first, once
    parent = mlflow_client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sweep/complete"] == 3 and "sweep/best_value" in parent.data.metrics
    assert parent.data.params["study_name"] == spec.study_name
    artifacts = {a.path for a in mlflow_client.list_artifacts(outcome.parent_run_id)}
    assert {"trials.csv", "summary.md", "plots.html", "optimization_history.png",
            "depth_width_slice.png", "sweep_spec.yaml"} <= artifacts
    assert "depth_width_contour.png" not in artifacts  # 3 complete trials: too few to fit a contour
    assert "depth_width_contour: left out" in outcome.summary
    children = _children(mlflow_client, outcome.parent_run_id)
    assert len(children) == 3
    assert {c.data.tags["optuna.state"] for c in children} == {"COMPLETE"}
    assert all("val/acc" in c.data.metrics and c.data.params["model.hidden_size"] for c in children)
    registered = parent.data.tags["sweep.registered"]  # the best trial is the challenger
    name = registered.split("/")[1]
    challenger = mlflow_client.get_model_version_by_alias(name, "challenger")
    best = max(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    assert challenger.run_id == best.user_attrs["mlflow_run_id"]

    spec.n_trials = 5  # the same command with a larger budget resumes the same study and parent
    again = run_sweep(spec, [])
    assert again.parent_run_id == outcome.parent_run_id
    assert again.counts["COMPLETE"] == 5
    assert len(_children(mlflow_client, outcome.parent_run_id)) == 5
    assert sum(t.params == baseline for t in study.trials) == 1  # not enqueued again on resume

    changed = _spec("track", base_overrides, storage, study_name=spec.study_name,
                    search_space={**SPACE, "model.hidden_size": {"type": "int", "low": 4, "high": 32}})
    with pytest.raises(ConfigError, match="was run with another recipe, search space or objectives"):
        run_sweep(changed, [])


def test_best_trial_without_a_checkpoint_is_retrained_to_register(base_overrides, storage, mlflow_client) -> None:
    spec = _spec("nockpt", base_overrides, storage, n_trials=2, keep_checkpoints=False)
    outcome = run_sweep(spec, [])
    trials = _children(mlflow_client, outcome.parent_run_id)
    retrained = [r for r in trials if "zoo.retrained_from_run" in r.data.tags]
    assert len(trials) == 3 and len(retrained) == 1
    assert not any(a.path == "checkpoints" for r in trials if r not in retrained
                   for a in mlflow_client.list_artifacts(r.info.run_id))
    study = optuna.load_study(study_name=spec.study_name, storage=storage)
    best = study.best_trial
    assert retrained[0].data.tags["zoo.retrained_from_run"] == best.user_attrs["mlflow_run_id"]
    assert retrained[0].data.metrics["val/best"] == pytest.approx(best.value, abs=1e-6)  # same seed, same value
    registered = mlflow_client.get_run(outcome.parent_run_id).data.tags["sweep.registered"]
    name = registered.split("/")[1]
    assert mlflow_client.get_model_version_by_alias(name, "challenger").run_id == retrained[0].info.run_id
    assert any(a.path == "checkpoints/best.ckpt" for a in mlflow_client.list_artifacts(retrained[0].info.run_id,
                                                                                          "checkpoints"))

    run_sweep(spec, [])  # rerunning the finished sweep reuses the retrained run: no new run, no new version
    assert len(_children(mlflow_client, outcome.parent_run_id)) == 3
    assert mlflow_client.get_run(outcome.parent_run_id).data.tags["sweep.registered"] == registered


def test_resuming_a_study_whose_mlflow_parent_is_gone_says_why(base_overrides, storage) -> None:
    spec = _spec("lost", base_overrides, storage, n_trials=1)
    run_sweep(spec, [])
    study = optuna.load_study(study_name=spec.study_name, storage=storage)
    study.set_user_attr("mlflow_parent_run_id", "0" * 32)  # as if mlflow.db had been deleted since
    with pytest.raises(ConfigError, match=r"which is not in sqlite:.*start a new study with study_name="):
        run_sweep(spec, [])


def test_a_debug_recipe_registers_nothing_unless_asked(base_overrides, storage, mlflow_client, capsys) -> None:
    before = {m.name: len(mlflow_client.search_model_versions(f"name='{m.name}'"))
              for m in mlflow_client.search_registered_models()}
    spec = _spec("debug", base_overrides, storage, n_trials=1, register=None)  # TINY has debug=smoke
    assert spec.debug == "smoke" and not spec.registers
    outcome = run_sweep(spec, [])
    assert outcome.counts["COMPLETE"] == 1
    assert "sweep.registered" not in mlflow_client.get_run(outcome.parent_run_id).data.tags
    after = {m.name: len(mlflow_client.search_model_versions(f"name='{m.name}'"))
             for m in mlflow_client.search_registered_models()}
    assert after == before  # no version, no alias moved
    assert "debug recipe (debug=smoke): nothing is registered" in capsys.readouterr().out
    cli = load_sweep_config("classification_trec", {"debug": "smoke", "register": True})  # zoo-sweep debug=smoke
    assert parse_sweep_spec("classification_trec", cli).recipe[-1] == "debug=smoke"
    assert parse_sweep_spec("classification_trec", cli).registers


def test_failed_trials_are_recorded_and_the_sweep_goes_on(base_overrides, storage, mlflow_client) -> None:
    # the spec's bounds are valid (a bad bound is refused before trial 0); enqueued values outside
    # them still reach a trial, which fails
    space = {**SPACE, "model.output_dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    spec = _spec("fail", base_overrides, storage, search_space=space, n_trials=3, max_failures=10)
    study = optuna.create_study(study_name=spec.study_name, storage=storage, direction="maximize")
    for dropout in (1.5, 0.1, 1.5):  # enqueued trials run first: two bad ones, one good
        study.enqueue_trial({"model.num_layers": 1, "model.hidden_size": 8, "model.output_dropout": dropout})
    outcome = run_sweep(spec, [])
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) >= 2 and outcome.counts["COMPLETE"] == 3  # failures do not eat the budget
    assert all("model.output_dropout=1.5 is invalid" in t.user_attrs["fail_reason"] for t in failed)
    runs = {c.data.tags["optuna.trial_number"]: c for c in _children(mlflow_client, outcome.parent_run_id)}
    assert runs[str(failed[0].number)].info.status == "FAILED"
    assert not outcome.stopped_by_failures


def test_sweep_stops_when_failures_exceed_the_limit(base_overrides, storage) -> None:
    space = {**SPACE, "model.output_dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    spec = _spec("stop", base_overrides, storage, search_space=space, n_trials=5, max_failures=1)
    study = optuna.create_study(study_name=spec.study_name, storage=storage, direction="maximize")
    for _ in range(5):  # out of the spec's bounds: every trial fails
        study.enqueue_trial({"model.num_layers": 1, "model.hidden_size": 8, "model.output_dropout": 1.5})
    outcome = run_sweep(spec, [])
    assert outcome.stopped_by_failures
    assert outcome.counts["FAIL"] == 2 and outcome.counts["COMPLETE"] == 0


def test_pruned_trials_are_pruned_not_failed(base_overrides, storage, mlflow_client) -> None:
    # val/acc can never reach 1.1, so the threshold pruner stops every trial after its first epoch
    spec = _spec("prune", base_overrides, storage, pruner={"name": "threshold", "lower": 1.1}, n_trials=2)
    outcome = run_sweep(spec, [])
    assert outcome.counts["PRUNED"] == 2 and outcome.counts["FAIL"] == 0
    children = _children(mlflow_client, outcome.parent_run_id)
    assert {(c.info.status, c.data.tags["optuna.state"]) for c in children} == {("KILLED", "PRUNED")}
    assert {c.data.metrics["sweep/epochs_trained"] for c in children} == {1.0}


def test_every_validation_run_is_its_own_pruning_step(base_overrides, storage) -> None:
    # validation twice an epoch for 2 epochs: 4 reports at steps 0-3 (the integration's
    # step=epoch kept only 2 of them and warned about the others)
    spec = _spec("steps", base_overrides, storage, n_trials=1,
                 recipe=[*base_overrides, *TINY, "trainer.limit_train_batches=4", "trainer.val_check_interval=0.5"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run_sweep(spec, [])
    assert outcome.counts["COMPLETE"] == 1
    assert not [w for w in caught if "already reported" in str(w.message)]
    trial = optuna.load_study(study_name=spec.study_name, storage=storage).trials[0]
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3]


def test_multi_objective_sweep_logs_the_pareto_front(base_overrides, storage, mlflow_client) -> None:
    spec = _spec("pareto", base_overrides, storage, n_trials=3, sampler={"name": "nsga2", "seed": 0},
                 objectives=[{"metric": "val/acc", "direction": "maximize"},
                             {"metric": "model/params", "direction": "minimize"}])
    outcome = run_sweep(spec, [])
    artifacts = {a.path for a in mlflow_client.list_artifacts(outcome.parent_run_id)}
    assert {"pareto_front.csv", "pareto_front.png"} <= artifacts
    front = mlflow_client.download_artifacts(outcome.parent_run_id, "pareto_front.csv")
    assert Path(front).read_text().splitlines()[0].startswith("trial,val/acc,model/params")


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_sigkill_mid_trial_then_rerun_finishes_the_budget(base_overrides, tmp_path: Path, tracking_uri) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    study_name = f"killed-{uuid.uuid4().hex[:8]}"
    recipe = "[" + ",".join([*base_overrides, *TINY, "trainer.max_epochs=3", "trainer.limit_train_batches=40"]) + "]"
    args = ["sweep=classification_trec", f"study_name={study_name}", f"storage={storage}", "n_trials=3",
            f"recipe={recipe}", "pruner=none", "confirm=false"]
    command = [sys.executable, "-m", "zoo.sweep", *args]
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    study = None
    while time.time() < deadline:  # wait until a trial is running, then kill the worker hard
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
            if study.get_trials(states=(TrialState.RUNNING,)):
                break
        except KeyError:
            pass
        time.sleep(0.5)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert study is not None and study.get_trials(states=(TrialState.RUNNING,))
    rerun = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "died" in rerun.stdout
    study = optuna.load_study(study_name=study_name, storage=storage)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 1
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 3
    assert TrialState.RUNNING not in states
    client = mlflow.MlflowClient(tracking_uri)
    killed = study.get_trials(states=(TrialState.FAIL,))[0]
    if "mlflow_run_id" in killed.user_attrs:  # killed after its MLflow run was created
        assert client.get_run(killed.user_attrs["mlflow_run_id"]).info.status == "FAILED"
    assert client.get_run(study.user_attrs["mlflow_parent_run_id"]).info.status == "FINISHED"


@pytest.fixture
def postgres_url() -> str:
    """A fresh schema in the `test` database of the local PostgreSQL, dropped afterwards."""
    base = os.environ.get("ZOO_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    try:
        engine = sqlalchemy.create_engine(base, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
    except Exception as err:  # noqa: BLE001
        server_absent(f"PostgreSQL not reachable at {base}: {str(err).splitlines()[0]}")
    schema = f"zoo_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_two_workers_share_a_postgresql_study(base_overrides, postgres_url, tmp_path: Path) -> None:
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    study_name = f"pg-{uuid.uuid4().hex[:8]}"
    recipe = "[" + ",".join([*base_overrides, *TINY, f"logger.tracking_uri={tracking}"]) + "]"
    command = [sys.executable, "-m", "zoo.sweep", "sweep=classification_trec", f"study_name={study_name}",
               f"storage={postgres_url}", "n_trials=6", "workers=2", f"recipe={recipe}", "pruner=none",
               "confirm=false"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name=study_name, storage=postgres_url)
    # the budget check and the next ask are not atomic across workers: a trial asked for after
    # the budget was taken ends at once as surplus, so exactly n_trials train
    trials = [t for t in study.trials if "zoo.surplus" not in t.user_attrs]
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.state == TrialState.FAIL and "mlflow_run_id" not in t.user_attrs
               for t in study.trials if t not in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2  # both workers took trials
    client = mlflow.MlflowClient(tracking)
    parent = study.user_attrs["mlflow_parent_run_id"]
    children = _children(client, parent)
    assert sorted(c.info.run_id for c in children) == sorted(t.user_attrs["mlflow_run_id"] for t in trials)
    assert {c.info.status for c in children} == {"FINISHED"}


def test_confirmation_retrains_the_top_trials_and_compares_the_winner_with_the_default(
        base_overrides, storage, mlflow_client) -> None:
    small = [*base_overrides, "model.hidden_size=6", "model=lstm"]  # the default recipe is small too
    spec = _spec("confirm", small, storage, enqueue=[{"model.num_layers": 1, "model.hidden_size": 5}],
                 confirm={"top_k": 2, "seeds": 2, "final_seeds": 2, "alpha": 1e-12})
    outcome = run_sweep(spec, [])
    parent = mlflow_client.get_run(outcome.parent_run_id)
    m, tags = parent.data.metrics, parent.data.tags
    assert {"confirm/winner_trial", "confirm/winner_test_acc_mean", "confirm/default_test_acc_mean"} <= set(m)
    assert tags["confirm.proven"] == "false"  # alpha 1e-12: nothing is proven, so nothing is promoted
    summary = Path(mlflow_client.download_artifacts(outcome.parent_run_id, "summary.md")).read_text()
    assert "## Confirmation" in summary and "verdict:" in summary
    arms = [r for r in _children(mlflow_client, outcome.parent_run_id) if "zoo.confirms_trial" in r.data.tags]
    assert len(arms) == 3 if "confirm/p_value" in m else len(arms) == 2  # 2 candidates (+ the default arm)
    for arm in arms:
        assert mlflow_client.get_run(arm.info.run_id).data.metrics["n_seeds"] == 2
    name, version = tags["sweep.registered"].removeprefix("models:/").split("/")
    registered = mlflow_client.get_model_version(name, version)
    assert registered.tags["n_seeds"] == "2" and "test_acc_mean" in registered.tags
    assert registered.tags["zoo.sweep_trial"] == str(int(m["confirm/winner_trial"]))
    aliases = {k: str(v) for k, v in mlflow_client.get_registered_model(name).aliases.items()}
    assert aliases["challenger"] == version and aliases.get("champion") != version

    runs_before = len(mlflow_client.search_runs([parent.info.experiment_id]))
    run_sweep(spec, [])  # a rerun of the finished sweep trains nothing and registers nothing new
    assert len(mlflow_client.search_runs([parent.info.experiment_id])) == runs_before
    assert mlflow_client.get_run(outcome.parent_run_id).data.tags["sweep.registered"] == tags["sweep.registered"]
