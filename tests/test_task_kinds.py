"""Task kinds: the registry of descriptors, the fallbacks for what older runs stored, and a
toy kind registered from this file alone that builders, training and the registry pick up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, open_dict

from zoo.data import ClassificationDataModule
from zoo.direction import Direction
from zoo.errors import ConfigError, ZooError
from zoo.registry.bundle import bundle_from_checkpoint
from zoo.registry.gate import version_kind
from zoo.registry.pyfunc import ZooTextModel
from zoo.tasks import TaskKind, TextClassifier, kind, kind_of_checkpoint, kind_of_config, register
from zoo.tasks.classifier import build_network
from zoo.tasks.inference import Inference, classify
from zoo.training.builders import build_datamodule, build_task, check_config
from zoo.training.pipeline import run_training

SMALL = ("debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")


def _toy_predict(model: Inference, texts: list[str], params: Mapping[str, Any]) -> dict[str, list]:
    return {**classify(model, texts, params), "kind": ["toy"] * len(texts)}


# A kind that reuses the classifier's modules but is compared on macro-F1, refuses
# bidirectional encoders and answers with an extra column: nothing outside this file changes.
TOY = register(TaskKind(
    name="toy", data_content="classification", data_module=ClassificationDataModule, task_module=TextClassifier,
    network=build_network, metrics=("val/f1_macro",), primary="test/f1_macro", direction=Direction.MAXIMIZE,
    example="a toy sentence", predict=_toy_predict, bidirectional=False,
    module_args=lambda dm: {**dm.sizes(), "class_names": ["neg", "pos"]},
))


def test_an_unknown_kind_lists_the_kinds_there_are() -> None:
    with pytest.raises(ZooError, match="unknown task kind 'regression'; choose one of classifier, language_model"):
        kind("regression")


@pytest.mark.parametrize(("task", "name"), [("sentiment", "classifier"), ("classification", "classifier"),
                                            ("generation", "language_model")])
def test_every_task_names_its_kind(compose: Callable[..., DictConfig], task: str, name: str) -> None:
    cfg = compose(f"task={task}")
    assert kind_of_config(cfg).name == name
    with open_dict(cfg):  # a config logged before task.kind existed names its dataset kind instead
        del cfg.task.kind
        cfg.task.data_kind = kind(name).data_content  # the legacy key held the same two words
    assert kind_of_config(cfg).name == name
    with pytest.raises(ConfigError, match="task.kind"):
        kind_of_config(compose(f"task={task}", "task.kind=nope"))


def test_checkpoints_without_a_stored_kind_are_told_apart_by_their_sizes() -> None:
    assert kind_of_checkpoint(None, {"num_classes": 2}).name == "classifier"
    assert kind_of_checkpoint(None, {"vocab_size": 60}).name == "language_model"
    assert kind_of_checkpoint("toy", {"num_classes": 2}) is TOY
    assert version_kind({}).name == "classifier" and version_kind({"task_kind": "toy"}).primary == "test/f1_macro"


def test_the_module_must_be_the_kinds(compose: Callable[..., DictConfig]) -> None:
    with pytest.raises(ConfigError, match="is not a LanguageModel, the module of task kind 'language_model'"):
        check_config(compose("task=sentiment", "task.kind=language_model", "data=tinyshakespeare"))


def test_a_kind_registered_elsewhere_is_built_trained_and_served(compose: Callable[..., DictConfig],
                                                                 tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task=sentiment cannot use a bidirectional LSTM"):
        check_config(compose("task=sentiment", "task.kind=toy", "model=bilstm"))
    cfg = compose("task=sentiment", "task.kind=toy", *SMALL)
    spec = check_config(cfg)
    datamodule = build_datamodule(cfg)
    assert type(datamodule) is ClassificationDataModule
    datamodule.setup()
    module = build_task(cfg, spec, datamodule)
    assert isinstance(module, TextClassifier) and module.task_kind == "toy"
    assert module.class_names == ["neg", "pos"]  # the kind's module_args, not the classifier's

    result = run_training(cfg)
    assert {"test/acc", "test/f1_macro", "perf/inference_ms"} <= set(result.metrics)
    bundle = bundle_from_checkpoint(result.best_checkpoint, max_length=None)
    assert bundle["task"] == "toy"  # read from the checkpoint, not guessed from num_classes
    torch.save(bundle, tmp_path / "bundle.pt")
    model = ZooTextModel()
    model.load_context(type("Context", (), {"artifacts": {"bundle": str(tmp_path / "bundle.pt")}})())
    out = model.predict(None, ["a fine film", "dull"])
    assert list(out["kind"]) == ["toy", "toy"] and set(out["label_name"]) <= {"neg", "pos"}
