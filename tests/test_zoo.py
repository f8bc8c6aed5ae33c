"""The zoo's recipes (`conf/experiment/`) and `make zoo`: every recipe composes with a fixed
seed and a published reference; training a few (shrunk) recipes registers them, promotes
the best, and writes a leaderboard that matches the registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from helpers.tool_errors import one_error_line
from omegaconf import DictConfig

from zoo.model_zoo import benchmark_recipe, explain_champions, main, recipes, train_recipe, write_leaderboard
from zoo.registry.ensemble import register_ensemble
from zoo.registry.leaderboard import Row, load_rows, markdown, merge, save_rows
from zoo.sweeps.orchestration.storage import open_storage
from zoo.training.builders import check_config

REQUIRED = {  # recipe: (dataset, task, variant, bidirectional)
    "sst2_lstm": ("sst2", "sentiment", "lstm", False),
    "sst2_bilstm": ("sst2", "sentiment", "lstm", True),
    "sst2_gates": ("sst2", "sentiment", "gates", False),
    "trec_lstm": ("trec", "classification", "lstm", False),
    "trec_bilstm": ("trec", "classification", "lstm", True),
    "tinyshakespeare_lstm": ("tinyshakespeare", "generation", "lstm", False),
}


def test_the_zoo_has_every_required_recipe() -> None:
    assert set(REQUIRED) <= set(recipes())


@pytest.mark.parametrize("recipe", recipes())
def test_recipe_composes_with_a_seed_and_a_reference(recipe: str, compose: Callable[..., DictConfig]) -> None:
    cfg = compose(f"experiment={recipe}")
    check_config(cfg)
    assert cfg.zoo_entry.name == recipe and cfg.zoo_entry.reference and float(cfg.zoo_entry.reference_value) > 0
    assert isinstance(cfg.seed, int)
    assert cfg.trainer.max_time is None, "recipes are bounded by epochs or steps, never wall time"
    assert cfg.trainer.max_epochs not in (None, -1) or cfg.trainer.max_steps > 0
    if recipe in REQUIRED:
        assert (cfg.data.name, cfg.task.name, cfg.model.encoder, bool(cfg.model.bidirectional)) == REQUIRED[recipe]


def test_zoo_registers_promotes_and_ranks(base_overrides: tuple[str, ...], tmp_path: Path, this_machine) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # its own store: champions here do not touch other tests'
    overrides = [*(o for o in base_overrides if not o.startswith("logger.")), f"logger.tracking_uri={uri}",
                 f"logger.artifact_root={tmp_path}/mlartifacts", "debug=smoke", "model.hidden_size=16",
                 "model.embedding_dim=8"]
    entries = [train_recipe(recipe, overrides) for recipe in ("sst2_lstm", "sst2_gates")]
    assert [e.name for e in entries] == ["sst2-sentiment"] * 2 and [e.version for e in entries] == ["1", "2"]

    table = write_leaderboard(uri, tmp_path)
    assert [r.recipe for r in table] == ["sst2_gates", "sst2_lstm"]  # recipes in name order
    assert [r.encoder for r in table] == ["gates", "lstm"] and all(r.metric == "test/acc" for r in table)
    client = mlflow.MlflowClient(uri)
    champion = client.get_model_version_by_alias("sst2-sentiment", "champion")
    assert float(champion.tags["test_acc"]) == pytest.approx(max(r.value for r in table), abs=1e-6)
    assert str(client.get_model_version_by_alias("sst2-sentiment", "challenger").version) == "2"
    board = (tmp_path / "ZOO.md").read_text()
    for row in table:  # the table says what the registry holds
        line = next(x for x in board.splitlines() if x.startswith(f"| {row.recipe} |"))
        version = client.get_model_version("sst2-sentiment", row.uri.rsplit("/", 1)[1])
        assert f"`{row.uri}`" in line and f"{row.value:.4f}" in line and f"{int(version.tags['params']):,}" in line
        assert ("champion" in line) == ("champion" in version.aliases)
        assert row.reference in line
    assert (tmp_path / "docs" / "zoo.png").stat().st_size > 10_000

    # `make zoo EXPLAIN=1`: the champion's explanation lands on its run, and only there
    assert explain_champions(uri, limit=12, n_steps=4, folder=tmp_path / "explain") == []
    logged = client.get_run(champion.run_id).data.metrics
    assert 0 <= logged["explain/saturation/l0/f/right"] <= 1 and "explain/aopc_comprehensiveness/occlusion" in logged
    assert (tmp_path / "explain" / champion.run_id / "explain.md").exists()
    other = next(v for v in client.search_model_versions("name='sst2-sentiment'") if v.version != champion.version)
    assert not any(k.startswith("explain/") for k in client.get_run(other.run_id).data.metrics)


@pytest.mark.parametrize(("argv", "message"), [
    (["only=imdb_lstm"], "unknown recipe(s) ['imdb_lstm']; recipes: sst2_bilstm, sst2_bilstm_tuned, sst2_cnn, "
                         "sst2_gates, sst2_lstm"),
    (["train=maybe"], "train='maybe': use train=true"),
    (["recipe=sst2_lstm"], "unexpected argument 'recipe=sst2_lstm'; options: only="),
])
def test_make_zoo_bad_arguments_say_what_is_allowed(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert message in one_error_line(main, argv, capsys)


def test_zoo_over_seeds_registers_seed0_with_statistics_and_an_ensemble_row(
        base_overrides, tmp_path: Path, this_machine, capfd: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [*(o for o in base_overrides if not o.startswith("logger.")), f"logger.tracking_uri={uri}",
                 f"logger.artifact_root={tmp_path}/mlartifacts", "debug=smoke", "model.hidden_size=8",
                 "model.embedding_dim=8"]
    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db")
    entry = benchmark_recipe("trec_lstm", [0, 1], storage, overrides)
    assert "Trial 0 finished" not in capfd.readouterr().err  # one line per seed run, not Optuna's INFO log too
    client = mlflow.MlflowClient(uri)
    version = client.get_model_version(entry.name, entry.version)
    assert version.tags["seed"] == "0" and version.tags["n_seeds"] == "2"  # the seed-0 model stands for the recipe
    parent = client.get_run(version.tags["zoo.benchmark_run"])
    assert float(version.tags["test_acc_mean"]) == pytest.approx(parent.data.metrics["test/acc_mean"], abs=1e-5)
    assert "champion" in client.get_model_version(entry.name, entry.version).aliases  # promoted on the mean
    assert benchmark_recipe("trec_lstm", [0, 1], storage, overrides).version == entry.version  # rerun: no new one
    ensemble_entry = register_ensemble(parent.info.run_id, uri)

    client.set_registered_model_alias(entry.name, "champion", ensemble_entry.version)  # a champion not explainable
    assert explain_champions(uri, limit=4, n_steps=2) == []  # skipped with a note, not a failure
    assert "is a seed ensemble of 2 models; explain one of them" in capfd.readouterr().err

    table = write_leaderboard(uri, tmp_path)
    single, ensemble = table
    assert (single.recipe, single.n, single.ensemble, ensemble.ensemble, ensemble.n) == ("trec_lstm", 2, False, True, 2)
    board = (tmp_path / "ZOO.md").read_text()
    std = float(version.tags["test_acc_std"])
    assert "| trec_lstm | classification |" in board and f"± {std:.4f} (2)" in board
    assert "| trec_lstm (ensemble of 2) |" in board


def _row(recipe: str, value: float, measured: str, ensemble: bool = False) -> Row:
    return Row(recipe=recipe, task="classification", dataset="trec", encoder="lstm", depth=1, width=8, params=100,
               metric="test/acc", value=value, best_val=value, reference="ref", reference_value=90.0, minutes=1.0,
               uri=f"models:/trec-classification/{len(recipe)}", aliases=["champion"], std=0.01, n=3,
               ensemble=ensemble, measured=measured)


def test_leaderboard_keeps_earlier_rows_of_recipes_the_store_does_not_hold(tmp_path: Path) -> None:
    """`make zoo only=...` into a fresh store: the other recipes' rows stay, marked with where and
    when they were measured; rows of recipes gone from conf/experiment are dropped."""
    earlier = [_row("trec_lstm", 0.88, "2026-11-29"), _row("trec_lstm", 0.90, "2026-11-29", ensemble=True),
               _row("trec_cnn", 0.88, "2026-11-29"), _row("imdb_gone", 0.5, "2026-11-01")]
    save_rows(earlier, tmp_path / "docs" / "zoo.json")
    assert load_rows(tmp_path / "docs" / "zoo.json") == earlier  # the file round-trips

    table = merge([_row("trec_cnn", 0.913, "2026-12-06")], load_rows(tmp_path / "docs" / "zoo.json"), recipes())
    assert [(r.label, r.value, r.kept) for r in table] == [
        ("trec_cnn", 0.913, False), ("trec_lstm", 0.88, True), ("trec_lstm (ensemble of 3)", 0.90, True)]
    assert table[1].aliases == []  # an alias names a version of another registry: not shown as if current
    board = markdown(table)
    assert "| `models:/trec-classification/8` (champion) |" in board  # this store's row, as before
    assert "| earlier store, 2026-11-29 (`models:/trec-classification/9` there) |" in board
    assert "kept, as measured on that" in board

    written = write_leaderboard(f"sqlite:///{tmp_path}/mlflow.db", tmp_path)  # an empty store keeps them all
    assert [r.recipe for r in written] == ["trec_cnn", "trec_lstm", "trec_lstm"] and all(r.kept for r in written)
    assert (tmp_path / "docs" / "zoo.png").stat().st_size > 10_000
    assert load_rows(tmp_path / "docs" / "zoo.json") == written
