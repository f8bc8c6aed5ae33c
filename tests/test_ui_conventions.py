"""What the MLflow and Optuna UIs show: experiments of the model-training kind with a
description, child runs named trial or seed first, dataset inputs and `val/best` on a run, a
described registered model, named objective values, and no fitted plots on too few trials."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE
from omegaconf import OmegaConf

from zoo.direction import Direction
from zoo.sweeps.benchmark.arms import Arm, replicate_run_name
from zoo.sweeps.search.objective import trial_run_name
from zoo.sweeps.search.report import MIN_TRIALS_FOR_FITTED_PLOTS, _save_plots, summary_markdown
from zoo.sweeps.search.space import suggest
from zoo.sweeps.search.spec import parse_sweep_spec
from zoo.sweeps.search.studies import load_study
from zoo.tracking.datasets import DIGEST_CHARS
from zoo.tracking.store import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, ensure_experiment
from zoo.tracking.ui_view import VIEW_TAG, experiment_page, view_tag_value
from zoo.training.summary import TrainResult, format_summary

SMALL = ("debug=smoke", "model=gru", "model.hidden_size=16", "model.embedding_dim=8")
SPEC = parse_sweep_spec("t", OmegaConf.create({
    "recipe": ["task=classification"],
    "objectives": [{"metric": "val/acc", "direction": "maximize"}],
    "search_space": {"model.num_layers": {"type": "int", "low": 1, "high": 3},
                     "model.hidden_size": {"type": "int", "low": 8, "high": 64, "log": True}},
    "sampler": {"name": "random", "seed": 0}, "pruner": "none",
}))


@pytest.fixture(scope="module")
def smoke(base_overrides, tmp_path_factory) -> tuple[mlflow.MlflowClient, mlflow.entities.Run]:
    """One smoke training of SST-2 in a store of its own."""
    from zoo.config import compose_config
    from zoo.training.pipeline import run_training

    tracking_uri = f"sqlite:///{tmp_path_factory.mktemp('ui')}/mlflow.db"
    overrides = [o for o in base_overrides if not o.startswith("logger.tracking_uri=")]
    result = run_training(compose_config([*overrides, f"logger.tracking_uri={tracking_uri}", "task=sentiment",
                                          *SMALL]))
    client = mlflow.MlflowClient(tracking_uri)
    return client, client.get_run(result.run_id)


def test_the_experiment_opens_on_training_runs_and_says_what_it_holds(smoke) -> None:
    client, run = smoke
    tags = client.get_experiment(run.info.experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND == "custom_model_development"
    assert "`sentiment`" in tags[MLFLOW_RUN_NOTE] and "`sst2`" in tags[MLFLOW_RUN_NOTE]
    view = json.loads(tags[VIEW_TAG])  # the saved-view envelope the UI's "Views" menu reads
    assert view["name"] == "lstm-zoo: metrics" and isinstance(view["createdAt"], int)
    columns = json.loads(view["state"])["selectedColumns"]
    assert columns[:3] == ["metrics.`val/best`", "metrics.`val/acc`", "metrics.`test/acc`"]
    assert "params.`model.encoder`" in columns


def test_the_printed_link_opens_the_training_mode_on_the_zoos_view() -> None:
    link = experiment_page("http://user:secret@mlflow.team:5000/", "7")
    assert link == ("http://user:secret@mlflow.team:5000/#/experiments/7/runs?workflowType=machine_learning"
                    "&viewStateShareKey=lstm-zoo")
    assert experiment_page("sqlite:////tmp/mlflow.db", "3").startswith("http://127.0.0.1:5000/#/experiments/3/runs?")
    assert json.loads(json.loads(view_tag_value("val/loss"))["state"])["selectedColumns"][:3] == [
        "metrics.`val/best`", "metrics.`val/loss`", "metrics.`test/loss`"]  # a language model's
    summary = format_summary(TrainResult("r1", "trec-classification", "http://user:secret@mlflow.team:5000",
                                         "val/acc", 0.9, experiment_id="7"))
    assert "browse at       http://user:***@mlflow.team:5000/#/experiments/7/runs?" in summary  # masked


def test_an_older_experiment_gets_the_kind_once_and_keeps_its_description(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    bare = client.create_experiment("old")
    other = client.create_experiment("hand", tags={MLFLOW_RUN_NOTE: "written by hand",
                                                   EXPERIMENT_KIND_TAG: "genai_development"})
    assert ensure_experiment(uri, "old", None, "new text") == bare
    assert ensure_experiment(uri, "old", None, "newer text") == bare  # idempotent: set once
    assert client.get_experiment(bare).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert client.get_experiment(bare).tags[MLFLOW_RUN_NOTE] == "new text"
    ensure_experiment(uri, "hand", None, "new text")
    assert client.get_experiment(other).tags == {MLFLOW_RUN_NOTE: "written by hand",
                                                 EXPERIMENT_KIND_TAG: "genai_development"}  # no monitor: no view
    client.set_experiment_tag(other, VIEW_TAG, "a view someone saved")
    ensure_experiment(uri, "hand", None, "new text", "val/acc")
    assert client.get_experiment(other).tags[VIEW_TAG] == "a view someone saved"
    ensure_experiment(uri, "old", None, None, "val/acc")
    assert VIEW_TAG in client.get_experiment(bare).tags


def test_a_run_logs_its_splits_as_datasets_and_its_best_value(smoke) -> None:
    client, run = smoke
    inputs = {i.dataset.name: i for i in client.get_run(run.info.run_id).inputs.dataset_inputs}
    assert set(inputs) == {"sst2-train", "sst2-validation", "sst2-test"}
    contexts = {name: {t.key: t.value for t in i.tags}["mlflow.data.context"] for name, i in inputs.items()}
    assert contexts == {"sst2-train": "train", "sst2-validation": "validation", "sst2-test": "test"}
    for split, file in (("train", "train.tsv"), ("validation", "dev.tsv"), ("test", "test.tsv")):
        dataset = inputs[f"sst2-{split}"].dataset
        assert dataset.digest == run.data.tags[f"data.sha256.{file}"][:DIGEST_CHARS]
        assert dataset.source_type == "local" and dataset.source.endswith(f'{file}"}}')
    assert "val/best" in run.data.metrics  # the monitored metric at the kept checkpoint


RACE_ERRORS = [  # PostgreSQL's (through a server) and SQLite's words for it
    'BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"',
    "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest"]


@pytest.mark.parametrize("message", RACE_ERRORS)
def test_splits_another_run_logged_meanwhile_are_linked_not_failed(tmp_path, monkeypatch, message: str) -> None:
    """Parallel sweep workers' first trials log the same splits at once: the store's lookup
    misses the other's datasets and the insert fails on their key (the team deployment's trial 0
    failed so); logged again, the run links the datasets the other run stored. Other errors raise."""
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    from zoo.tracking import datasets

    inputs = [DatasetInput(MetaDataset(HTTPDatasetSource("http://data/trec.csv"), name=f"trec-{split}",
                                       digest="d" * DIGEST_CHARS)._to_mlflow_entity(),
                           [InputTag("mlflow.data.context", split)]) for split in ("train", "validation", "test")]
    monkeypatch.setattr(datasets, "split_datasets", lambda *args: inputs)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("race")
    other, mine = (client.create_run(experiment).info.run_id for _ in range(2))
    calls = []

    class LosesTheRace(mlflow.MlflowClient):
        def log_inputs(self, run_id, datasets=None, models=None) -> None:
            calls.append(run_id)
            if len(calls) == 1:  # the other worker's run stores the splits first
                client.log_inputs(other, datasets=datasets)
                raise MlflowException(message)
            super().log_inputs(run_id, datasets=datasets, models=models)

    datasets.log_datasets(LosesTheRace(uri), mine, None, {}, {})
    assert calls == [mine, mine]
    for run_id in (other, mine):
        assert {i.dataset.name for i in client.get_run(run_id).inputs.dataset_inputs} == {
            "trec-train", "trec-validation", "trec-test"}

    class Refused(mlflow.MlflowClient):
        def log_inputs(self, run_id, datasets=None, models=None) -> None:
            calls.append(run_id)
            raise MlflowException("RESOURCE_DOES_NOT_EXIST: Run 'x' not found")

    calls.clear()
    with pytest.raises(MlflowException, match="not found"):
        datasets.log_datasets(Refused(uri), mine, None, {}, {})
    assert calls == [mine]  # not retried


def test_a_registered_model_is_described_and_tagged(smoke, capfd: pytest.CaptureFixture[str]) -> None:
    from zoo.registry.versions import register_run

    client, run = smoke
    entry = register_run(run.info.run_id, client.tracking_uri)
    screen = "".join(capfd.readouterr())
    assert "Successfully registered model" not in screen and "Created version" not in screen  # quiet
    assert client.get_model_version(entry.name, entry.version).run_id == run.info.run_id
    model = client.get_registered_model(entry.name)
    assert model.tags["task"] == "sentiment" and model.tags["dataset"] == "sst2"
    assert model.tags["task_kind"] == "classifier"
    assert f"models:/{entry.name}@champion" in model.description and "`text` column" in model.description
    assert client.get_model_version(entry.name, entry.version).description


def test_child_runs_are_named_trial_or_seed_first() -> None:
    assert trial_run_name("trec_tpe", 7) == "t007-trec_tpe"
    assert trial_run_name("trec_tpe", 12, "-retrained") == "t012-trec_tpe-retrained"
    confirms = Arm("trec_tpe-trial3", [], [0], tags={"zoo.confirms_trial": "3"})
    assert replicate_run_name(confirms, {"seed": 1}) == "t003-s1-trec_tpe"
    default = Arm("trec_tpe-default", [], [0], tags={"zoo.confirms_trial": "default"})
    assert replicate_run_name(default, {"seed": 0}) == "s0-trec_tpe-default"
    assert replicate_run_name(Arm("mr_lstm", [], [0], folds=10), {"seed": 2, "fold": 4}) == "s2-f4-mr_lstm"


def test_the_study_names_its_objectives() -> None:
    storage = optuna.storages.InMemoryStorage()
    assert load_study(SPEC, storage).metric_names == ["val/acc"]
    assert load_study(SPEC, storage).metric_names == ["val/acc"]  # resumed: unchanged
    params = dataclasses.replace(SPEC.objectives[0], metric="model/params", direction=Direction.of("minimize"))
    pareto = dataclasses.replace(SPEC, study_name="p", objectives=[*SPEC.objectives, params])
    assert load_study(pareto, storage).metric_names == ["val/acc", "model/params"]


def _study(n_trials: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: sum(float(v) for v in suggest(t, SPEC.search_space).values()), n_trials=n_trials)
    return study


def test_fitted_plots_wait_for_enough_complete_trials(tmp_path: Path) -> None:
    few = _study(3)
    notes = _save_plots(few, SPEC, tmp_path)
    drawn = {p.name for p in tmp_path.iterdir()}
    assert not {"param_importances.png", "depth_width_contour.png"} & drawn
    assert {"optimization_history.png", "depth_width_slice.png"} <= drawn
    summary = summary_markdown(few, SPEC, "memory", 1.0, notes)
    assert f"only 3 complete trials, and a fit to fewer than {MIN_TRIALS_FOR_FITTED_PLOTS}" in summary
    enough = tmp_path / "enough"
    enough.mkdir()
    notes = _save_plots(_study(MIN_TRIALS_FOR_FITTED_PLOTS), SPEC, enough)
    assert {"param_importances.png", "depth_width_contour.png"} <= {p.name for p in enough.iterdir()}, notes
