"""End to end in process: train, test and track each task on real data (debug=smoke)."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
import torch
from omegaconf import DictConfig

from zoo.errors import TrainingError, ZooError
from zoo.registry.gate import promote
from zoo.registry.versions import register_run
from zoo.training import pipeline
from zoo.training.pipeline import run_training
from zoo.training.summary import format_summary

SMALL = ("model.hidden_size=32", "model.embedding_dim=16")


def _run(mlflow_client: mlflow.MlflowClient, result) -> mlflow.entities.Run:
    return mlflow_client.get_run(result.run_id)


def test_sentiment_run_is_tracked_completely(compose: Callable[..., DictConfig], mlflow_client) -> None:
    result = run_training(compose("task=sentiment", "debug=smoke", *SMALL))
    run = _run(mlflow_client, result)
    assert run.info.status == "FINISHED"
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "sst2-sentiment"
    metrics = run.data.metrics
    for key in ("train/loss", "val/loss", "val/acc", "test/acc", "test/f1_macro",
                "model/params", "perf/epoch_time_s", "perf/train_tokens_per_s"):
        assert key in metrics, key
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert metrics["model/params"] == result.num_parameters > 0
    assert result.metrics["test/acc"] == pytest.approx(metrics["test/acc"])
    params = run.data.params
    assert params["model.num_layers"] == "1" and params["model.hidden_size"] == "32"
    assert params["data.size.train_examples"] == "67349"
    tags = run.data.tags
    for key in ("mlflow.source.git.commit", "git.commit", "seed", "host", "version.torch",
                "version.lightning", "version.mlflow", "data.sha256.train.tsv"):
        assert tags.get(key), key
    assert tags["seed"] == "0"
    assert len(tags["data.sha256.train.tsv"]) == 64
    artifacts = {a.path for a in mlflow_client.list_artifacts(result.run_id)}
    assert {"config.yaml", "tokenizer", "checkpoints"} <= artifacts
    assert [a.path for a in mlflow_client.list_artifacts(result.run_id, "checkpoints")] == ["checkpoints/best.ckpt"]


def test_checkpoint_is_a_plain_weights_only_file(compose: Callable[..., DictConfig]) -> None:
    result = run_training(compose("task=classification", "debug=smoke", *SMALL))
    checkpoint = torch.load(result.best_checkpoint, weights_only=True, map_location="cpu")
    assert checkpoint["hyper_parameters"]["num_classes"] == 6
    assert checkpoint["hyper_parameters"]["class_names"][0] == "ABBR"
    assert '"[UNK]"' in checkpoint["tokenizer_json"]


def test_generation_logs_perplexity_and_bits_per_char(compose: Callable[..., DictConfig], mlflow_client) -> None:
    result = run_training(compose("task=generation", "debug=smoke", "model.num_layers=1", *SMALL))
    metrics = _run(mlflow_client, result).data.metrics
    for split in ("val", "test"):
        loss = metrics[f"{split}/loss"]
        assert metrics[f"{split}/ppl"] == pytest.approx(math.exp(loss), rel=1e-4)
        assert metrics[f"{split}/bpc"] == pytest.approx(loss / math.log(2), rel=1e-4)
    assert loss < math.log(67)  # learned something beyond a uniform guess


def test_seed_variant_trains(compose: Callable[..., DictConfig]) -> None:
    result = run_training(compose("task=classification", "model=gates", "debug=smoke", *SMALL))
    assert result.metrics["test/acc"] > 0


def test_same_seed_same_numbers(compose: Callable[..., DictConfig]) -> None:
    overrides = ("task=classification", "debug=smoke", "seed=0", *SMALL)
    first = run_training(compose(*overrides)).metrics
    second = run_training(compose(*overrides)).metrics
    assert round(first["test/loss"], 4) == round(second["test/loss"], 4)
    assert round(first["test/acc"], 4) == round(second["test/acc"], 4)
    other = run_training(compose("task=classification", "debug=smoke", "seed=1", *SMALL)).metrics
    assert other["test/loss"] != first["test/loss"]


def test_nan_loss_stops_the_run_and_marks_it_failed(
    compose: Callable[..., DictConfig], mlflow_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = compose("task=sentiment", "debug=smoke", *SMALL,
                  "task.module.optimizer._target_=torch.optim.SGD", "task.module.optimizer.lr=1e38",
                  "logger.run_name=nan-run")
    with pytest.raises(TrainingError, match=r"training loss became (nan|inf) at epoch 0"):
        run_training(cfg)
    experiment = mlflow_client.get_experiment_by_name("sst2-sentiment")
    runs = mlflow_client.search_runs([experiment.experiment_id], "tags.`mlflow.runName` = 'nan-run'")
    assert [r.info.status for r in runs] == ["FAILED"]


def test_a_step_budget_shorter_than_an_epoch_validates_before_it_stops(compose: Callable[..., DictConfig],
                                                                       mlflow_client) -> None:
    """Lightning validates at the end of an epoch; 3 steps of an 8-batch epoch once ended in early
    stopping's RuntimeError ("conditioned on metric `val/acc` which is not available"), run FAILED."""
    result = run_training(compose("task=sentiment", "debug=smoke", *SMALL, "trainer.max_steps=3"))
    run = _run(mlflow_client, result)
    assert run.info.status == "FINISHED"
    assert len(mlflow_client.get_metric_history(result.run_id, "val/acc")) == 1
    assert result.best_checkpoint and "test/acc" in result.metrics
    assert torch.load(result.best_checkpoint, weights_only=True, map_location="cpu")["global_step"] == 3


def test_output_dir_holds_checkpoint_and_tokenizer(compose: Callable[..., DictConfig]) -> None:
    result = run_training(compose("task=sentiment", "debug=smoke", *SMALL))
    out = Path(result.output_dir)
    assert (out / "tokenizer.json").is_file()
    assert Path(result.best_checkpoint).parent == out / "checkpoints"


def test_entry_point_trains_and_prints_a_summary(shared_data: Path, workdir: Path, tracking_uri: str) -> None:
    """`python -m zoo.train` end to end; MLFLOW_TRACKING_URI picks the store."""
    import os
    import subprocess
    import sys

    from zoo.paths import PROJECT_ROOT

    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "ZOO_DATA_DIR": str(shared_data),
           "ZOO_CACHE_DIR": str(workdir / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "zoo.train", "task=classification", "debug=smoke", *SMALL,
         f"paths.log_dir={workdir}/logs", "logger.experiment_name=cli-check"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MLflow run id" in result.stdout and "test/acc" in result.stdout
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("cli-check")
    assert experiment is not None
    assert [r.info.status for r in client.search_runs([experiment.experiment_id])] == ["FINISHED"]


def test_language_model_generates_from_its_checkpoint_alone(compose: Callable[..., DictConfig]) -> None:
    from zoo.tasks import LanguageModel

    result = run_training(compose("task=generation", "debug=smoke", "model.num_layers=1", *SMALL))
    model = LanguageModel.load_from_checkpoint(result.best_checkpoint, map_location="cpu", weights_only=True)
    text = model.generate("ROMEO:", max_new_tokens=40, temperature=0.8, top_k=10, seed=3)
    assert len(text) == 40
    assert text == model.generate("ROMEO:", max_new_tokens=40, temperature=0.8, top_k=10, seed=3)
    assert set(text) <= set(model.tokenizer.get_vocab())


def test_a_run_cut_by_max_time_is_tagged_truncated_and_cannot_be_promoted(compose, mlflow_client) -> None:
    cfg = compose("task=classification", "debug=smoke", "model.hidden_size=8", "trainer.max_epochs=50",
                  "trainer.limit_train_batches=null", "trainer.max_time=00:00:00:01")
    result = pipeline.run_training(cfg)
    assert result.truncated
    assert mlflow_client.get_run(result.run_id).data.tags["zoo.truncated"] == "true"
    assert "TRUNCATED" in format_summary(result)
    entry = register_run(result.run_id, cfg.logger.tracking_uri)
    with pytest.raises(ZooError, match="cut short by trainer.max_time"):
        promote(entry.name, entry.version, cfg.logger.tracking_uri)


def test_same_seed_same_figures_on_an_idle_and_a_busy_machine(compose) -> None:
    cfg = compose("task=classification", "debug=smoke", "model.hidden_size=16", "trainer.max_epochs=2")
    idle = pipeline.run_training(cfg)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a busy neighbour on a core
    try:
        busy = pipeline.run_training(cfg)
    finally:
        burner.kill()
    assert not idle.truncated and not busy.truncated
    assert round(idle.best_value, 4) == round(busy.best_value, 4)
    for key in ("test/acc", "test/loss", "test/f1_macro"):
        assert round(idle.metrics[key], 4) == round(busy.metrics[key], 4)


@pytest.mark.parametrize("task", ["sentiment", "generation"])
def test_bf16_on_the_cpu_trains_with_a_finite_loss(task: str, compose: Callable[..., DictConfig]) -> None:
    """trainer=cpu_bf16: autocast in training, fp32 metrics, the LM's clipping with its own optimiser."""
    cfg = compose(f"task={task}", "debug=smoke", "trainer=cpu_bf16", *SMALL)
    assert cfg.trainer.precision == "bf16-mixed"
    result = run_training(cfg)
    metric = "test/acc" if task == "sentiment" else "test/loss"
    assert math.isfinite(result.metrics[metric])


def test_bf16_on_a_cpu_without_bf16_instructions_warns_that_it_is_slower(
        compose: Callable[..., DictConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """An AVX2-only CPU (CI's EPYC) runs bf16 autocast's recurrence in fp32: it trains, and says why not to."""
    from zoo.training import builders

    cfg = compose("task=sentiment", "debug=smoke", "trainer=cpu_bf16", *SMALL)
    monkeypatch.setattr(builders, "onednn_supports", lambda dtype: False)
    with pytest.warns(UserWarning, match=r"without bf16 instructions .* leave trainer.precision at 32"):
        builders.warn_emulated_bf16(cfg)
    monkeypatch.setattr(builders, "onednn_supports", lambda dtype: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        builders.warn_emulated_bf16(cfg)
