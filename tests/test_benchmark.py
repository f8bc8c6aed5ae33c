"""`python -m zoo.benchmark`: recipes over seeds and folds as Optuna-queued runs, with
statistics on an MLflow parent run, resume after failures and dead workers, seed
ensembles, and bad input refused before any training."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
import torch
from helpers.tool_errors import one_error_line
from optuna.trial import TrialState, create_trial

from zoo import benchmark
from zoo.errors import ZooError
from zoo.registry.bundle import build_network, bundle_from_checkpoint, ensemble_bundle
from zoo.registry.ensemble import register_ensemble
from zoo.registry.loading import load_registered
from zoo.sweeps.benchmark import arms, replicates
from zoo.sweeps.orchestration import objective as child_runs

TINY = ["debug=smoke", "model.hidden_size=8", "model.embedding_dim=8", "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=2"]


@pytest.fixture
def store(tmp_path: Path, base_overrides: tuple[str, ...]) -> tuple[str, list[str]]:
    """A fresh MLflow store and Optuna storage, and the overrides that point runs at them."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [*(o for o in base_overrides if not o.startswith("logger.")), f"logger.tracking_uri={uri}",
                 f"logger.artifact_root={tmp_path}/mlartifacts", *TINY]
    return uri, [*overrides, f"storage=sqlite:///{tmp_path}/optuna.db"]


def _parent(client: mlflow.MlflowClient, name: str = "benchmark-trec_lstm") -> mlflow.entities.Run:
    experiment = client.get_experiment_by_name("trec-classification")
    (run,) = client.search_runs([experiment.experiment_id], f"attributes.run_name = '{name}'")
    return run


def _children(client: mlflow.MlflowClient, parent: mlflow.entities.Run) -> list[mlflow.entities.Run]:
    return client.search_runs([parent.info.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' and tags.`zoo.benchmark` = "
                              "'trec_lstm'")


def test_seeds_give_statistics_resume_and_an_ensemble(store, capsys: pytest.CaptureFixture[str]) -> None:
    uri, args = store
    assert benchmark.main(["experiment=trec_lstm", "seeds=2", *args]) == 0
    client = mlflow.MlflowClient(uri)
    parent = _parent(client)
    children = _children(client, parent)
    assert sorted(c.data.params["seed"] for c in children) == ["0", "1"]
    accs = [c.data.metrics["test/acc"] for c in children]
    m = parent.data.metrics
    assert m["n_seeds"] == 2 and m["test/acc_mean"] == pytest.approx(sum(accs) / 2, abs=1e-6)
    assert m["test/acc_ci95_low"] <= m["test/acc_mean"] <= m["test/acc_ci95_high"]
    assert {"test/acc_std", "test/f1_macro_mean", "val/best_mean", "val/best_ci95_high"} <= set(m)
    assert parent.info.status == "FINISHED" and parent.data.tags["zoo.recipe"] == "trec_lstm"
    assert "test/acc" in capsys.readouterr().out

    # more seeds later: only the new one trains, the statistics cover all three
    assert benchmark.main(["experiment=trec_lstm", "seeds=[0,1,2]", *args]) == 0
    assert len(_children(client, parent)) == 3
    assert _parent(client).data.metrics["n_seeds"] == 3
    assert benchmark.main(["experiment=trec_lstm", "seeds=3", *args]) == 0  # all done: nothing trains
    assert len(_children(client, parent)) == 3

    entry = register_ensemble(parent.info.run_id, uri)
    version = client.get_model_version(entry.name, entry.version)
    assert version.tags["zoo.ensemble"] == "true" and version.tags["n_members"] == "3"
    assert version.tags["zoo.recipe"] == "trec_lstm"
    assert register_ensemble(parent.info.run_id, uri).version == entry.version  # idempotent
    texts = ["who wrote hamlet ?", "how far is the moon ?"]
    served = load_registered(f"models:/{entry.name}/{entry.version}", uri).predict(pd.DataFrame({"text": texts}))
    members = []
    for child in _children(client, parent):  # the ensemble is the mean of the members' probabilities
        path = client.download_artifacts(child.info.run_id, "checkpoints/best.ckpt", str(Path(uri[10:]).parent))
        network, tokenizer = build_network(bundle_from_checkpoint(path, 64))
        encoded = [e.ids for e in tokenizer.encode_batch(texts)]
        lengths = torch.tensor([len(x) for x in encoded])
        tokens = torch.zeros(2, int(lengths.max()), dtype=torch.long)
        for row, ids in enumerate(encoded):
            tokens[row, : len(ids)] = torch.tensor(ids)
        members.append(torch.softmax(network(tokens, lengths), dim=-1))
    expected = torch.stack(members).mean(0)
    assert torch.allclose(torch.tensor(served["probabilities"].tolist()), expected, atol=1e-5)


def test_a_failed_seed_is_reported_and_a_rerun_retries_only_it(store, monkeypatch, capsys) -> None:
    uri, args = store
    real = child_runs.run_training

    def flaky(cfg, *a, **k):
        if cfg.seed == 1:
            raise RuntimeError("simulated out of memory")
        return real(cfg, *a, **k)

    monkeypatch.setattr(child_runs, "run_training", flaky)
    assert benchmark.main(["experiment=trec_lstm", "seeds=2", *args]) == 1
    out, err = capsys.readouterr()
    assert "missing seed1: RuntimeError: simulated out of memory" in out and "rerun the same command" in err
    client = mlflow.MlflowClient(uri)
    assert _parent(client).info.status == "FAILED"
    monkeypatch.setattr(child_runs, "run_training", real)
    assert benchmark.main(["experiment=trec_lstm", "seeds=2", *args]) == 0
    parent = _parent(client)
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_seeds"] == 2
    finished = [c for c in _children(client, parent) if c.info.status == "FINISHED"]
    assert sorted(c.data.params["seed"] for c in finished) == ["0", "1"]  # seed 0 was not trained twice


def test_a_dead_workers_seed_runs_again(store, tmp_path: Path) -> None:
    uri, args = store
    arm = arms.Arm("trec_lstm", ["experiment=trec_lstm", *args[:-1]], [0], recipe="trec_lstm")
    storage = args[-1].removeprefix("storage=")
    study = optuna.create_study(study_name=arm.study_name, storage=storage, direction="maximize",
                                sampler=replicates.QueueOnlySampler())
    dead = os.fork()  # a pid that surely ended
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    seed = optuna.distributions.IntDistribution(*arms.SEED_RANGE)
    study.add_trial(create_trial(state=TrialState.RUNNING, params={"seed": 0}, distributions={"seed": seed},
                                 user_attrs={"worker": f"{socket.gethostname()}:{dead}"}))
    assert benchmark.main(["experiment=trec_lstm", "seeds=1", *args]) == 0
    states = [t.state for t in optuna.load_study(study_name=arm.study_name, storage=storage).trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]


def test_folds_run_every_fold_and_ensembles_refuse_them(store, tmp_path: Path, shared_data: Path) -> None:
    uri, args = store
    rows = pd.read_csv(shared_data / "sst2" / "train.tsv", sep="\t", quoting=3).head(300)
    mr = tmp_path / "mr"
    mr.mkdir()
    for label, name in ((0, "rt-polarity.neg"), (1, "rt-polarity.pos")):
        (mr / name).write_text("\n".join(rows[rows.label == label].sentence) + "\n", encoding="latin-1")
    overrides = ["task=sentiment", "data=mr", f"data.local.dir={mr}", *args]
    assert benchmark.main(["folds=3", "seeds=1", *overrides]) == 0
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("mr-sentiment")
    (parent,) = client.search_runs([experiment.experiment_id], "attributes.run_name = 'benchmark-mr-sentiment'")
    assert parent.data.metrics["n_folds"] == 3 and parent.data.metrics["n_runs"] == 3
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.data.tags["zoo.cv_fold"] for c in children) == ["0", "1", "2"]
    assert len({c.data.params["data.size.test_examples"] for c in children}) <= 2  # folds of about 60 rows
    with pytest.raises(ZooError, match="different tokenizers"):
        register_ensemble(parent.info.run_id, uri)


def test_ensemble_bundles_need_one_classifier_recipe() -> None:
    base = {"task": "classifier", "tokenizer_json": "a", "hparams": {"vocab_size": 3}, "state_dict": {}}
    with pytest.raises(ZooError, match="different tokenizers"):
        ensemble_bundle([base, {**base, "tokenizer_json": "b"}], ["run x", "run y"])
    with pytest.raises(ZooError, match="different architectures"):
        ensemble_bundle([base, {**base, "hparams": {"vocab_size": 4}}], ["run x", "run y"])
    with pytest.raises(ZooError, match="needs classifiers"):
        ensemble_bundle([{**base, "task": "language_model"}] * 2, ["run x", "run y"])


@pytest.mark.parametrize(("argv", "message"), [
    (["experiment=trec_lstm", "seeds=0"], "seeds=0: give how many seeds (>= 1"),
    (["experiment=trec_lstm", "seeds=[0,-3]"], "seeds must be >= 0, got [-3]"),
    (["experiment=trec_lstm", "seeds=[1,2,1]"], "seed(s) [1] appear twice"),
    (["experiment=trec_lstm", "seeds=two"], "seeds='two': give a count"),
    (["experiment=trec_lstm", "folds=1"], "folds=1: cross-validation needs at least 2 folds"),
    (["experiment=imdb_lstm"], "unknown recipe(s) ['imdb_lstm']; recipes in conf/experiment: sst2_bilstm"),
    (["experiment=trec_lstm", "seed=3"], "seed=... is set for each run by the benchmark"),
    (["experiment=trec_lstm", "trainer.max_time=00:00:01:00"], "benchmarks refuse it; bound it by trainer.max_epochs"),
    (["experiment=trec_lstm", "folds=2"], "data.cv_folds=2 makes the test split from folds of train, but"),
    (["experiment=trec_lstm", "model.num_layers=0"], "model.num_layers=0 is invalid"),
    (["experiment=trec_lstm", "workers=0"], "workers=0 must be >= 1"),
])
def test_bad_benchmark_arguments_fail_before_training(argv, message, store, monkeypatch, capsys) -> None:
    _, args = store
    monkeypatch.setattr(child_runs, "run_training", lambda *a, **k: pytest.fail("trained despite bad input"))
    assert message in one_error_line(benchmark.main, [*args, *argv], capsys)


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert benchmark.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in ("experiment", "seeds", "folds", "workers", "storage"))


def test_two_worker_processes_share_the_queued_seeds(store) -> None:
    uri, args = store
    assert benchmark.main(["experiment=trec_lstm", "seeds=4", "workers=2", *args]) == 0
    client = mlflow.MlflowClient(uri)
    parent = _parent(client)
    children = _children(client, parent)
    assert sorted(c.data.params["seed"] for c in children) == ["0", "1", "2", "3"]  # each seed once
    assert {c.info.status for c in children} == {"FINISHED"} and parent.data.metrics["n_seeds"] == 4
    storage = args[-1].removeprefix("storage=")
    (summary,) = [s for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith("bench-trec_lstm")]
    trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(
        states=(TrialState.COMPLETE,))
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers trained
