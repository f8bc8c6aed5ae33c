"""Config composition and the mistakes users make with it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from omegaconf import DictConfig, OmegaConf

from zoo.config import compose_config
from zoo.errors import ConfigError
from zoo.paths import PROJECT_ROOT
from zoo.training import pipeline
from zoo.training.builders import check_config

TASKS = {"sentiment": "sst2", "classification": "trec", "generation": "tinyshakespeare"}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", ["lstm", "bilstm", "gates"])
def test_every_task_and_variant_composes(compose: Callable[..., DictConfig], task: str, model: str) -> None:
    cfg = compose(f"task={task}", f"model={model}")
    assert cfg.data.name == TASKS[task]  # each task brings its default dataset
    if task == "generation" and model == "bilstm":
        with pytest.raises(ConfigError, match="bidirectional"):
            check_config(cfg)
    else:
        spec = check_config(cfg)
        assert spec.bidirectional is (model == "bilstm")
        assert spec.encoder == ("gates" if model == "gates" else "lstm")


def test_command_line_beats_task_defaults(compose: Callable[..., DictConfig]) -> None:
    cfg = compose("task=generation", "data=tinyshakespeare", "model.num_layers=3", "model.hidden_size=64")
    assert (cfg.model.num_layers, cfg.model.hidden_size) == (3, 64)
    assert compose("task=classification", "data.label_level=fine").data.label_level == "fine"


def test_sizes_are_never_written_in_configs(compose: Callable[..., DictConfig]) -> None:
    """vocab_size / num_classes / pad_id come from the data module, not from YAML."""
    for task in TASKS:
        flat = str(OmegaConf.to_container(compose(f"task={task}").task, resolve=True))
        for key in ("vocab_size", "num_classes", "pad_id"):
            assert key not in flat


def test_task_and_dataset_kinds_must_match(compose: Callable[..., DictConfig]) -> None:
    with pytest.raises(ConfigError, match="task=generation needs a 'text' dataset but data=sst2"):
        check_config(compose("task=generation", "data=sst2"))


@pytest.mark.parametrize(
    "override,message",
    [("model.num_layers=0", "model.num_layers=0"), ("model.hidden_size=0", "model.hidden_size=0"),
     ("model.dropout=1.0", "model.dropout=1.0"), ("model.dropout=-0.5", "model.dropout=-0.5")],
)
def test_invalid_hyperparameters_fail_before_any_data_loads(
    compose: Callable[..., DictConfig], monkeypatch: pytest.MonkeyPatch, override: str, message: str
) -> None:
    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was loaded before the config was checked")

    monkeypatch.setattr(pipeline, "build_datamodule", no_data)
    with pytest.raises(ConfigError, match=message):
        pipeline.run_training(compose(override))


def _train_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo.train", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "override,choices",
    [("model=xlnet", ["bilstm", "bow", "cnn", "gru", "lstm", "lstmp", "layernorm", "gates", "transformer"]),
     ("task=translation", ["classification", "generation", "sentiment"]),
     ("data=imdb", ["sst2", "tinyshakespeare", "trec"])],
)
def test_unknown_option_lists_the_choices(override: str, choices: list[str]) -> None:
    result = _train_cli(override)
    assert result.returncode != 0
    assert "Available options" in result.stderr
    for choice in choices:
        assert choice in result.stderr


def test_invalid_value_from_the_command_line_is_one_clear_line() -> None:
    result = _train_cli("model.hidden_size=0")
    assert result.returncode == 2
    assert "error: model.hidden_size=0 is invalid" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_from_the_command_line_names_path_and_make_data(tmp_path) -> None:
    result = _train_cli(f"paths.data_dir={tmp_path}/empty", "debug=smoke")
    assert result.returncode == 2
    assert f"error: data file not found: {tmp_path}/empty/sst2/train.tsv" in result.stderr
    assert "make data" in result.stderr and "Traceback" not in result.stderr


def test_unknown_pooling_fails_before_data_loads(compose: Callable[..., DictConfig]) -> None:
    with pytest.raises(ConfigError, match="task.module.pooling='median'.*last, mean, max, attention"):
        check_config(compose("task.module.pooling=median"))


def test_a_dataset_yaml_naming_only_what_differs_takes_every_option(tmp_path) -> None:
    """A new dataset extends conf/schema/data.yaml, so options it does not write (cv_folds,
    batch_size, the tokenizer) are still settable from the command line."""
    from zoo.data import parse_dataset_spec

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reviews.yaml").write_text(
        "defaults:\n  - /schema/data@_here_\n  - _self_\nname: reviews\ncontent: classification\n"
        "local: {format: csv, dir: '${paths.data_dir}/reviews', splits: {train: train.csv}}\n")
    cfg = compose_config([f"hydra.searchpath=[file://{tmp_path}]", "data=reviews", "data.cv_folds=10",
                          "data.tokenizer.vocab_size=5000"])
    spec = parse_dataset_spec(cfg.data)
    assert (spec.cv_folds, spec.tokenizer.vocab_size, spec.batch_size) == (10, 5000, 64)


@pytest.mark.parametrize(("override", "message"), [
    ("data.foo=1", "error: Could not override 'data.foo'; To append to your config use +data.foo=1; "
                   "Key 'foo' is not in struct"),
    ("data.cv_folds=abc=1", "error: the command line does not parse: mismatched input '='"),
])
def test_a_command_line_hydra_refuses_is_one_error_line(override: str, message: str) -> None:
    result = _train_cli(override)
    assert result.returncode == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_make_data_links_every_dataset_the_configs_name(tmp_path) -> None:
    from zoo.data.link import dataset_folders, link_datasets

    conf, shared, data = tmp_path / "conf", tmp_path / "shared", tmp_path / "data"
    (conf / "data").mkdir(parents=True)
    for name in ("reviews", "news"):
        (conf / "data" / f"{name}.yaml").write_text(f"local: {{dir: '${{paths.data_dir}}/{name}_files'}}\n")
    (shared / "reviews_files").mkdir(parents=True)
    folders = dataset_folders(conf)
    assert folders == {"news": "news_files", "reviews": "reviews_files"}
    assert link_datasets(shared, data, folders) == (["reviews"], ["news"])
    assert (data / "reviews_files").resolve() == (shared / "reviews_files").resolve()


@pytest.mark.parametrize(("override", "message"), [
    ("task=TRUE", "task=TRUE: task takes the name of one of its configs; Available options in 'task': "
                  "classification, generation, sentiment"),
    ("model=3", "model=3: model takes the name of one of its configs; Available options in 'model': bilstm, bow"),
    ("data=null", "data=null: data takes the name of one of its configs; Available options in 'data': mr, sst2"),
])
def test_a_config_group_given_no_name_is_one_line_with_its_choices(override: str, message: str) -> None:
    """Hydra raises a bare ValueError for these (the fuzzer found `task=TRUE`)."""
    from zoo.config import check_overrides

    with pytest.raises(ConfigError) as refused:
        check_overrides([override])
    assert str(refused.value).startswith(message)


def test_clipping_a_fused_optimizer_under_mixed_precision_is_refused_before_training(compose) -> None:
    """Lightning would raise it from deep inside fit; one line names both ways out."""
    from zoo.training.builders import check_config

    cfg = compose("task=sentiment", "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=1.0")
    with pytest.raises(ConfigError, match=r"cannot clip a fused optimizer's gradients under "
                                          r"trainer.precision=bf16-mixed: set task.module.optimizer.fused=false"):
        check_config(cfg)
    check_config(compose("task=sentiment", "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=1.0",
                         "task.module.optimizer.fused=false"))
    check_config(compose("task=sentiment", "trainer.gradient_clip_val=1.0"))  # fp32 clips a fused optimizer fine
