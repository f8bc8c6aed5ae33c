"""Progress people read (issue 12): one logged line per epoch, a sweep line with best-so-far
and ETA, and library noise off unless verbose=true."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.types import DataType
from omegaconf import DictConfig

from zoo.paths import PROJECT_ROOT
from zoo.sweeps.orchestration.loop import eta_seconds, format_eta
from zoo.sweeps.search.runner import trial_line
from zoo.training.callbacks import format_duration, format_epoch_line
from zoo.training.pipeline import run_training

SMALL = ("debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)  train/loss \d+\.\d{3}  val/acc (\d\.\d{4})  best (\d\.\d{4})  "
                        r"[\d,]+ tok/s  \d+s$")
NOISE = ("Seed set to", "GPU available", "TPU available", "💡", "Validating input example")


def test_epoch_line_is_logged_once_per_epoch_with_the_best_so_far(
        compose: Callable[..., DictConfig], caplog) -> None:
    with caplog.at_level(logging.INFO, logger="zoo.progress"):
        result = run_training(compose("task=classification", *SMALL, "trainer.max_epochs=2", "test=false"))
    lines = [r.getMessage() for r in caplog.records if r.name == "zoo.progress"]
    assert len(lines) == 2, lines
    matches = [EPOCH_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [m.group(1, 2) for m in matches] == [("1", "2"), ("2", "2")]
    values = [float(m.group(3)) for m in matches]
    assert [float(m.group(4)) for m in matches] == [values[0], max(values)]  # val/acc: higher is better
    assert float(matches[-1].group(4)) == round(result.best_value, 4)


class _Stream:
    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def test_the_bar_is_drawn_on_a_terminal_only(monkeypatch) -> None:
    from zoo.training.callbacks import ZooProgressBar

    monkeypatch.setattr(sys, "stdout", _Stream(terminal=True))
    assert ZooProgressBar("val/acc", refresh_rate=20).is_enabled
    assert not ZooProgressBar("val/acc", refresh_rate=0).is_enabled
    monkeypatch.setattr(sys, "stdout", _Stream(terminal=False))
    assert not ZooProgressBar("val/acc", refresh_rate=20).is_enabled
    assert ZooProgressBar("val/acc", refresh_rate=20, terminal_only=False).is_enabled


def test_a_log_file_gets_epoch_lines_and_no_bar_redraws(base_overrides, tmp_path: Path) -> None:
    """`zoo-train ... > run.log`: the bar (here redrawn every batch) stays out of the file."""
    log = tmp_path / "run.log"
    with log.open("w") as out:
        subprocess.run([sys.executable, "-m", "zoo.train", *base_overrides, "task=classification", *SMALL,
                        "callbacks.progress_bar.refresh_rate=1", "trainer.max_epochs=2", "test=false"],
                       stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, check=True, timeout=300)
    text = log.read_text()
    assert "\r" not in text, text[:500]
    assert len(re.findall(r"^\s*epoch \d/2 ", text, flags=re.M)) == 2, text


def test_epoch_line_and_durations_format() -> None:
    assert format_epoch_line(3, 10, 0.41234, "val/acc", 0.84516, 0.84516, 12345.4, 83) == \
        "epoch 3/10  train/loss 0.412  val/acc 0.8452  best 0.8452  12,345 tok/s  1m23s"
    assert format_epoch_line(2, -1, None, "val/loss", 1.5, 1.4, None, 5, step=120, max_steps=1100) == \
        "epoch 2 (step 120/1100)  train/loss -  val/loss 1.5000  best 1.4000  - tok/s  5s"
    assert [format_duration(s) for s in (0, 59.6, 61, 3725)] == ["0s", "1m00s", "1m01s", "1h02m"]


def test_sweep_trial_line_has_best_so_far_and_eta() -> None:
    assert eta_seconds([], 5, 1) is None
    assert eta_seconds([10.0, 20.0], 8, 2) == 60.0  # mean 15 s x 8 trials left / 2 workers
    assert format_eta(None) == "ETA -" and format_eta(150) == "ETA 2m30s"
    line = trial_line(3, "COMPLETE", "val/acc=0.8452", "lr=0.001", 4, 21.3, 4, 12, 0,
                      "best val/acc=0.8610 (trial 1)", 170.0)
    assert line == ("[trial   3] COMPLETE val/acc=0.8452  lr=0.001  epochs=4 21.3s  "
                    "(4/12 done, 0 failed; best val/acc=0.8610 (trial 1), ETA 2m50s)")


def test_registered_signature_declares_integer_outputs_without_mlflow_hint() -> None:
    from zoo.registry.versions import _signature

    example = pd.DataFrame({"text": ["a film"]})
    output = pd.DataFrame({"label": [1], "label_name": ["pos"], "probabilities": [np.array([0.2, 0.8])]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signature = _signature(example, output, None)
    assert not [w for w in caught if "Inferred schema contains integer" in str(w.message)]
    assert signature.outputs.input_names() == ["label", "label_name", "probabilities"]
    assert signature.outputs.input_types()[:2] == [DataType.long, DataType.string]


def _train(base_overrides: tuple[str, ...], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zoo.train", *base_overrides, "task=classification", *SMALL, "test=false",
         f"paths.output_dir={tmp_path}", *extra],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_library_noise_is_off_by_default(base_overrides, tmp_path: Path) -> None:
    """One real `python -m zoo.train` (its stdout is Hydra's console, its train.log Hydra's file)."""
    result = subprocess.run(
        [sys.executable, "-m", "zoo.train", *base_overrides, "task=classification", *SMALL, "test=false",
         f"paths.output_dir={tmp_path}"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    screen = result.stdout + result.stderr
    assert not [n for n in NOISE if n in screen], screen[-3000:]
    assert re.search(r"^epoch 1/1  train/loss .* tok/s", result.stdout, re.M)
    assert "[zoo.progress][INFO] - epoch 1/1  train/loss" in (tmp_path / "train.log").read_text()


def test_verbose_brings_the_library_lines_back(monkeypatch) -> None:
    from zoo.quiet import ARTIFACT_BARS, NOISY, quiet

    monkeypatch.delenv(ARTIFACT_BARS, raising=False)
    levels = {name: logging.getLogger(name).level for name in NOISY}
    try:
        quiet(False)
        assert {logging.getLogger(n).getEffectiveLevel() for n in NOISY} == {logging.WARNING}
        assert os.environ[ARTIFACT_BARS] == "false"
        quiet(True)
        assert {logging.getLogger(n).getEffectiveLevel() for n in NOISY} == {logging.INFO}
        assert ARTIFACT_BARS not in os.environ
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_every_click_tool_is_quiet_by_default_and_takes_verbose(monkeypatch) -> None:
    """`zoo.cli.ZooCommand` quiets every tool (benchmark, zoo, predict, serve, ...) and gives each
    a `verbose=` option; a tool that reads `verbose` itself (zoo-sweep) still gets it."""
    import click

    from zoo.cli import ZooCommand
    from zoo.quiet import ARTIFACT_BARS, NOISY
    from zoo.sweep import main as sweep_main

    monkeypatch.delenv(ARTIFACT_BARS, raising=False)
    levels = {name: logging.getLogger(name).level for name in NOISY}
    seen: list[int] = []

    @click.command("probe", cls=ZooCommand)
    def probe() -> int:
        seen.append(logging.getLogger(NOISY[0]).getEffectiveLevel())
        return 0

    try:
        assert probe.main(["verbose=true"]) == 0 and probe.main([]) == 0
        assert seen == [logging.INFO, logging.WARNING]
        assert any(p.name == "verbose" for p in sweep_main.params)
        assert sum(p.name == "verbose" for p in sweep_main.params) == 1
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
