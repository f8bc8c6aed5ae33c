"""The default recipes reach their published targets (slow: `make test-slow`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from omegaconf import DictConfig

from zoo.training.pipeline import run_training

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("task", "metric", "target"), [
    ("classification", "test/acc", 0.88),
    ("sentiment", "test/acc", 0.83),
])
def test_classifier_recipe_reaches_target(compose: Callable[..., DictConfig], task: str, metric: str,
                                          target: float) -> None:
    result = run_training(compose(f"task={task}", "callbacks.progress_bar.refresh_rate=0"))
    assert result.metrics[metric] >= target


def test_generation_recipe_reaches_target(compose: Callable[..., DictConfig]) -> None:
    result = run_training(compose("task=generation", "callbacks.progress_bar.refresh_rate=0"))
    assert result.best_value is not None and result.best_value <= 1.60  # val/loss, nats/char


def test_recipe_is_reproducible_to_four_decimals(compose: Callable[..., DictConfig]) -> None:
    overrides = ("task=classification", "callbacks.progress_bar.refresh_rate=0", "trainer.max_epochs=3")
    first = run_training(compose(*overrides)).metrics["test/acc"]
    second = run_training(compose(*overrides)).metrics["test/acc"]
    assert f"{first:.4f}" == f"{second:.4f}"
