"""Sweep specs: every mistake is reported before any trial starts, naming the entry."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from typing import Any

import optuna
import pytest
from helpers.servers import server_absent
from omegaconf import OmegaConf

from zoo.errors import ConfigError
from zoo.paths import PROJECT_ROOT
from zoo.sweeps.orchestration.storage import masked, open_storage
from zoo.sweeps.search.check import check_against_config
from zoo.sweeps.search.space import to_overrides
from zoo.sweeps.search.spec import available_sweeps, load_sweep_config, parse_sweep_spec
from zoo.sweeps.search.studies import make_pruner, make_sampler

BASE: dict[str, Any] = {
    "recipe": ["task=classification"],
    "objectives": [{"metric": "val/acc", "direction": "maximize"}],
    "search_space": {"model.num_layers": {"type": "int", "low": 1, "high": 2},
                     "model.hidden_size": {"type": "int", "low": 8, "high": 64, "log": True}},
}


def _spec(**changes: Any):
    raw = {**BASE, **changes}
    return parse_sweep_spec("t", OmegaConf.create(raw))


def test_every_shipped_sweep_is_valid() -> None:
    names = available_sweeps()
    assert {"sentiment_sst2", "classification_trec", "generation_tinyshakespeare"} <= set(names)
    for name in names:
        spec = parse_sweep_spec(name, load_sweep_config(name, {}))
        check_against_config(spec)
        make_sampler(spec), make_pruner(spec)
        assert {"model.num_layers", "model.hidden_size"} <= set(spec.search_space)


def test_unknown_sweep_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown sweep 'nope'; available sweeps: .*sentiment_sst2"):
        load_sweep_config("nope", {})


def test_command_line_values_replace_the_spec() -> None:
    cfg = load_sweep_config("sentiment_sst2", {"n_trials": 3, "pruner": "none", "sampler": "random"})
    spec = parse_sweep_spec("sentiment_sst2", cfg)
    assert spec.n_trials == 3 and spec.pruner == {"name": "none"}
    assert spec.sampler == {"name": "random", "seed": 0}
    with pytest.raises(ConfigError, match=r"unknown sweep option\(s\) \['n_trial'\]"):
        load_sweep_config("sentiment_sst2", {"n_trial": 3})


def test_debug_names_a_debug_recipe() -> None:
    cfg = load_sweep_config("sentiment_sst2", {"debug": "smoke"})
    assert list(cfg.recipe)[-1] == "debug=smoke"
    with pytest.raises(ConfigError, match="debug=True is not a debug recipe; choices: smoke"):
        load_sweep_config("sentiment_sst2", {"debug": True})


@pytest.mark.parametrize(("space", "message"), [
    ({"model.hidden_size": {"type": "int", "low": 64, "high": 64}}, r"'model.hidden_size': empty range"),
    ({"model.hidden_size": {"type": "int", "low": 0, "high": 8, "log": True}}, "log scale needs low > 0"),
    ({"model.hidden_size": {"type": "integer", "low": 1, "high": 8}}, "type='integer'"),
    ({"model.hidden_size": {"type": "categorical", "choices": []}}, "non-empty list of choices"),
    ({"model.hidden_size": {"type": "int", "low": 8, "high": 64, "condition": "model.dropout > 0"}},
     "'model.hidden_size': its condition names 'model.dropout'"),
])
def test_bad_search_space_entries_are_named(space: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _spec(search_space={**BASE["search_space"], **space})


def test_depth_and_width_are_always_tuned() -> None:
    with pytest.raises(ConfigError, match=r"must tune depth and width; add \['model.hidden_size'\]"):
        _spec(search_space={"model.num_layers": {"type": "int", "low": 1, "high": 2}})


def test_key_absent_from_the_config_is_named() -> None:
    spec = _spec(search_space={**BASE["search_space"], "model.hiden": {"type": "float", "low": 0, "high": 1}})
    with pytest.raises(ConfigError, match=r"'model.hiden' names a key absent.*model has \[.*'hidden_size'"):
        check_against_config(spec)
    group = _spec(search_space={**BASE["search_space"], "model": {"type": "categorical", "choices": ["xlnet"]}})
    with pytest.raises(ConfigError, match=r"'model' is a config group.*unknown: \['xlnet'\]"):
        check_against_config(group)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sampler", {"name": "grid"}, "sampler.name='grid' is not known; choose one of tpe, random, cmaes, nsga2"),
    ("pruner", {"name": "patient"}, "pruner.name='patient' is not known; choose one of median, hyperband"),
    ("objectives", [{"metric": "test/acc", "direction": "maximize"}], "must be a validation metric"),
    ("objectives", [{"metric": "val/acc", "direction": "up"}], "direction='up'"),
    ("pruner", {"name": "threshold"}, "pruner threshold with options {}: Either lower or upper"),
    ("sampler", {"name": "tpe", "seed": 0, "n_startup": 3}, "sampler tpe with options"),
    ("n_trials", "many", "n_trials='many' must be a whole number"),
    ("confirm", {"top_k": -1}, r"confirm.top_k=-1 must be a whole number >= 0"),
    ("confirm", {"final_seeds": 1}, r"confirm.final_seeds=1 must be a whole number >= 2"),
    ("confirm", {"seeds": 4, "final_seeds": 3}, r"confirm.final_seeds=3 must be >= confirm.seeds=4"),
    ("confirm", {"alpha": 1.5}, r"confirm.alpha=1.5 must be in \(0, 1\)"),
    ("confirm", {"topk": 3}, r"unknown confirm option\(s\) \['topk'\]"),
])
def test_bad_sampler_pruner_and_objectives(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _spec(**{field: value})


def test_objective_must_be_logged_by_the_task() -> None:
    with pytest.raises(ConfigError, match="objectives\\[0\\]='val/ppl' is not logged by task=classification"):
        check_against_config(_spec(objectives=[{"metric": "val/ppl", "direction": "minimize"}]))
    with pytest.raises(ConfigError, match="bidirectional"):
        check_against_config(_spec(recipe=["task=generation", "model=bilstm"],
                                   objectives=[{"metric": "val/loss", "direction": "minimize"}]))


def test_unreachable_storage_fails_fast_with_the_password_masked() -> None:
    url = "postgresql+psycopg2://zoo:s3cret@127.0.0.1:1/optuna"
    with pytest.raises(ConfigError, match=r"cannot open the Optuna storage postgresql\+psycopg2://zoo:\*\*\*@") as err:
        open_storage(url)
    assert "s3cret" not in str(err.value)
    assert masked(url) == "postgresql+psycopg2://zoo:***@127.0.0.1:1/optuna"


def test_the_readme_postgresql_url_form_opens() -> None:
    """`postgresql://user@host/db` (the README's form, no `+driver`) must find its driver."""
    url = os.environ.get("ZOO_TEST_POSTGRES_PLAIN", "postgresql://root@127.0.0.1:5432/test")
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
    except OSError as err:
        server_absent(f"no PostgreSQL on 127.0.0.1:5432 ({err})")
    storage = open_storage(url)
    storage.engine.dispose()


CLAIM = """
import json, pathlib, sys, time
import optuna
from zoo.sweeps.orchestration.storage import open_storage
study = optuna.load_study(study_name="queue", storage=open_storage(sys.argv[1]))
print("ready", flush=True)
while not pathlib.Path(sys.argv[2]).exists():  # both start claiming at once
    time.sleep(0.005)
claimed = []
while (trial_id := study._pop_waiting_trial_id()) is not None:  # what study.optimize/ask do first
    claimed.append(trial_id)
print(json.dumps(claimed))
"""


def test_two_workers_never_claim_the_same_queued_trial_on_sqlite(tmp_path) -> None:
    """SQLite ignores SELECT ... FOR UPDATE: without BEGIN IMMEDIATE (zoo.sweeps.orchestration.storage.begin_immediate)
    two processes claimed 6 to 12 of 60 queued trials twice, and a benchmark seed ran twice."""
    url = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(study_name="queue", storage=open_storage(url))
    for seed in range(60):
        study.enqueue_trial({"seed": seed})
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", CLAIM, url, str(go)], cwd=PROJECT_ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for worker in workers:
        assert worker.stdout.readline() == "ready\n", worker.stderr.read()[-2000:]
    go.touch()
    claimed = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        claimed += json.loads(out)
    assert sorted(claimed) == sorted(t._trial_id for t in study.get_trials())  # each trial once


def test_a_timeout_that_is_no_number_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("timeout='abc' must be a number of seconds > 0")):
        _spec(timeout="abc")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("broken", "recipe: [task=classification\nobjectives: {", "broken.yaml line 2 is not valid YAML"),
    ("../outside", "recipe: [task=classification]\n", "unknown sweep '../outside'"),
])
def test_a_sweep_is_a_valid_yaml_named_in_sweeps(tmp_path, monkeypatch, name: str, text: str, message: str) -> None:
    folder = tmp_path / "sweeps"
    folder.mkdir()
    (folder / "broken.yaml").write_text(text)
    (tmp_path / "outside.yaml").write_text(text)  # beside sweeps/: never read
    monkeypatch.setattr("zoo.sweeps.search.spec.SWEEPS_DIR", folder)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sweep_config(name, {})


@pytest.mark.parametrize(("entry", "message"), [
    ({"model.hidden_size": {"type": "int", "low": 0, "high": 64}},
     "search_space entry 'model.hidden_size' allows 0, which training refuses: model.hidden_size=0 is invalid"),
    ({"model.embedding_dropout": {"type": "float", "low": 0.0, "high": 1.5}},
     "search_space entry 'model.embedding_dropout' allows 1.5, which training refuses"),
    ({"task.module.optimizer.lr": {"type": "float", "low": 0.0, "high": 0.01}},
     "search_space entry 'task.module.optimizer.lr' allows 0.0"),
])
def test_search_space_bounds_are_checked_against_the_model(entry: dict, message: str) -> None:
    space = {**BASE["search_space"], **entry}
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_against_config(_spec(search_space=space))


def test_groups_come_first_in_trial_overrides() -> None:
    assert to_overrides({"model.hidden_size": 32, "model": "bilstm", "task.module.optimizer.lr": 0.001}) == [
        "model=bilstm", "model.hidden_size=32", "task.module.optimizer.lr=0.001"]


def test_cli_reports_a_bad_spec_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.sweep", "sweep=sentiment_sst2", "sampler=grid"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "error: sampler.name='grid' is not known" in result.stderr and "Traceback" not in result.stderr


def test_enqueued_points_must_be_in_the_search_space() -> None:
    spec = _spec(enqueue=[{"model.num_layers": 1, "model.hidden_size": 16}])
    assert spec.enqueue == [{"model.num_layers": 1, "model.hidden_size": 16}]
    with pytest.raises(ConfigError, match=r"enqueue\[0\] sets \['model.dropout'\]"):
        _spec(enqueue=[{"model.num_layers": 1, "model.dropout": 0.1}])


def test_the_shipped_sweeps_confirm_their_winner_and_set_no_wall_time_budget() -> None:
    for name in available_sweeps():
        spec = parse_sweep_spec(name, load_sweep_config(name, {}))
        assert not any(o.startswith("trainer.max_time") for o in spec.recipe), name
        if "model" in spec.search_space:  # a variant study compares cores' distributions, crowns no winner
            assert not spec.confirm.enabled and not spec.registers and spec.pruner == {"name": "none"}, name
        elif not spec.multi_objective:
            assert (spec.confirm.top_k, spec.confirm.seeds, spec.confirm.final_seeds) == (3, 3, 5)
