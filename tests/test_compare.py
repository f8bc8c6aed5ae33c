"""The model comparison: each architecture's search and seeds nested under one parent run,
the tests against the best LSTM, the costs and the report; a rerun that trains nothing
again; and its bad input, each one line before any training."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from helpers.tool_errors import one_error_line

from zoo.compare import main
from zoo.errors import ConfigError
from zoo.stats import holm, paired_bootstrap
from zoo.sweeps.compare.run import run_compare
from zoo.sweeps.compare.spec import load_compare_config, parse_compare_spec

TINY = ["debug=smoke", "model.embedding_dim=8", "trainer.max_epochs=2", "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2"]
SMALL = {"bilstm": {"model.hidden_size": {"type": "int", "low": 4, "high": 8},
                    "model.num_layers": {"type": "categorical", "choices": [1]}},
         "cnn": {"model.hidden_size": {"type": "int", "low": 4, "high": 8}}}


def tiny_comparison(base_overrides: tuple[str, ...], storage: str):
    """compare_trec cut down: two architectures, one trial and two seeds each, tiny models."""
    cfg = load_compare_config("compare_trec", {"only": "bilstm,cnn", "n_trials": 1, "seeds": 2, "storage": storage,
                                               "cost": {"calls": 5, "pyfunc_calls": 3}})
    cfg.recipe = [*base_overrides, *cfg.recipe, *TINY]
    for arch, space in SMALL.items():
        cfg.architectures[arch].search_space = space
        cfg.architectures[arch].enqueue = []
    return parse_compare_spec("compare_trec", cfg)


def _children(client: mlflow.MlflowClient, parent: str) -> list[mlflow.entities.Run]:
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")


def test_a_comparison_nests_searches_and_seeds_tests_against_the_lstm_and_resumes(
        base_overrides, tmp_path: Path, mlflow_client) -> None:
    spec = tiny_comparison(base_overrides, f"sqlite:///{tmp_path}/optuna.db")
    page = tmp_path / "docs" / "lstm-or-not.md"
    outcome = run_compare(spec, [], docs=page)
    parent = mlflow_client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["compare.reference"] == "bilstm"
    studies = {c.info.run_name for c in _children(mlflow_client, outcome.parent_run_id)}
    assert studies == {"sweep-compare_trec-bilstm", "sweep-compare_trec-cnn", "benchmark-compare_trec-bilstm",
                       "benchmark-compare_trec-cnn"}
    table = outcome.table
    assert [c.arch for c in table.contenders] == ["bilstm", "cnn"]
    for c in table.contenders:
        assert c.test.n == 2 and c.ensemble is not None and c.correct is not None
        assert set(c.cost.latency_ms) == {10, 20, 50} and c.cost.params > 0 and c.cost.pyfunc_ms["p50"] > 0
        assert c.cost.train_cpu_s_to_best is not None and c.cost.model_uri.startswith("models:/trec-classification/")
    assert list(table.verdicts) == ["cnn"] and table.verdict
    text = page.read_text()
    assert "## `compare_trec`" in text and "| cnn |" in text and "**bilstm** (reference)" in text
    assert (page.parent / "lstm-or-not_compare_trec.png").stat().st_size > 1000
    trained = len(mlflow_client.search_runs([parent.info.experiment_id], "tags.`optuna.trial_number` != ''"))
    again = run_compare(spec, [], docs=page)  # a rerun resumes: every trial and seed is kept
    assert again.parent_run_id == outcome.parent_run_id
    assert len(mlflow_client.search_runs([parent.info.experiment_id], "tags.`optuna.trial_number` != ''")) == trained


@pytest.mark.parametrize(("argv", "message"), [
    (["spec=compare_nope"], "invalid spec= value: 'compare_nope' is not one of"),
    (["spec=compare_trec", "debug=true"], "debug=True is not a debug recipe; choices: smoke"),
    (["spec=compare_trec", "only=xlnet"], r"only=xlnet: \['xlnet'\] is not an architecture of compare_trec"),
    (["spec=compare_trec", "only=cnn,bow"], "mark at least one architecture `lstm: true`"),
    (["spec=compare_trec", "seeds=1"], "seeds=1 must be a whole number >= 2"),
    (["spec=compare_trec", "alpha=2"], r"alpha=2.0 must be in \(0, 1\)"),
    (["spec=compare_trec", "recipe=[task=generation]"], r"objectives\[0\]=.val/acc. is not logged by task=generation"),
    (["spec=compare_trec", "epochs=3"], r"unknown comparison option\(s\) \['epochs'\]"),
    (["spec=compare_trec", "only=nog,cnn", "architectures.cnn.overrides=[model=cnn,model.num_layers=2]"],
     "model.num_layers=2 means nothing to model.encoder=cnn"),
    (["spec=compare_trec", "only=nog,transformer", "architectures.transformer.overrides=[model=transformer,"
      "model.context=32]"], "data.max_length=64 is longer than the 32 positions model.encoder=transformer"),
])
def test_bad_comparison_input_is_one_line(argv: list[str], message: str, capsys) -> None:
    import re

    assert re.search(message, one_error_line(main, argv, capsys))


def test_a_comparison_needs_two_architectures() -> None:
    with pytest.raises(ConfigError, match="needs at least two architectures"):
        parse_compare_spec("compare_trec", load_compare_config("compare_trec", {"only": "nog"}))


def test_paired_bootstrap_and_holm() -> None:
    rng = np.random.default_rng(0)
    better, worse = (rng.random(2000) < 0.9).astype(float), (rng.random(2000) < 0.8).astype(float)
    found = paired_bootstrap(better, worse, resamples=2000)
    assert 0.07 < found.difference < 0.13 and found.ci95_low > 0 and found.p_value < 0.01
    same = paired_bootstrap(better, better.copy(), resamples=500)
    assert same.difference == 0 and same.p_value == 1.0
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def _contenders(values: dict[str, list[float]]):
    from zoo.sweeps.benchmark.arms import Arm, ArmResult, RunRecord
    from zoo.sweeps.compare.evidence import contender

    out = []
    for arch, seeds in values.items():
        runs = [RunRecord({"seed": i}, f"r{i}", {"test/acc": v, "val/best": v}) for i, v in enumerate(seeds)]
        out.append(contender(arch, arch.endswith("lstm"), ArmResult(Arm(arch, [], [0]), "p", runs, [], {}),
                             "test/acc"))
    return out


@pytest.mark.parametrize(("values", "expected"), [
    ({"bilstm": [0.90, 0.91, 0.905, 0.90, 0.91], "cnn": [0.88, 0.87, 0.875, 0.88, 0.87],
      "transformer": [0.80, 0.92, 0.85, 0.90, 0.83]},
     r"^the LSTM wins: bilstm 0.9050 .* best other model, cnn 0.8750 .*; transformer is worse on the mean but "),
    ({"bilstm": [0.90, 0.91, 0.905, 0.90, 0.91], "cnn": [0.93, 0.94, 0.935, 0.93, 0.94]},
     r"^another model wins: cnn 0.9350"),
    ({"bilstm": [0.90, 0.91, 0.905, 0.90, 0.91], "cnn": [0.90, 0.92, 0.89, 0.91, 0.90]},
     r"^no significant difference: the LSTM \(bilstm\)"),
])
def test_the_task_verdict_reads_the_tests(values: dict[str, list[float]], expected: str) -> None:
    import re

    from zoo.direction import Direction
    from zoo.sweeps.compare.evidence import pick_reference, task_verdict, verdicts

    contenders = _contenders(values)
    reference = pick_reference(contenders, Direction.MAXIMIZE)
    found = verdicts(contenders, reference, "test/acc", Direction.MAXIMIZE, 0.05)
    assert re.search(expected, task_verdict(contenders, reference, found, "test/acc", Direction.MAXIMIZE))


def test_the_cost_stage_calls_a_classifier_with_a_sentence_and_a_language_model_with_a_prompt() -> None:
    """A classifier's params (explain, n_steps) do not make it a language model: its pyfunc
    latency is measured on a real question, with no generation params."""
    from zoo.sweeps.compare.cost import example_text
    from zoo.sweeps.compare.spec import COST_DEFAULTS
    from zoo.tasks.kinds import kind

    assert kind("classifier").params and not kind("classifier").generates and kind("language_model").generates
    frame, params = example_text({"task": "classifier"}, COST_DEFAULTS)
    assert params is None and len(frame["text"][0].split()) > 10
    frame, params = example_text({"task": "language_model"}, COST_DEFAULTS)
    assert frame["text"][0] == "ROMEO:" and params == {"max_new_tokens": 20, "seed": 0}
