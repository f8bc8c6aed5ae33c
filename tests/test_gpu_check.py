"""The prepared GPU script (`scripts/gpu_check.py`) works before a device is lent: its checks
run on the CPU, small, and without CUDA it refuses in one line instead of failing half-way."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from zoo.paths import PROJECT_ROOT


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", PROJECT_ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_core_runs_and_the_hand_written_lstm_equals_nn_lstm() -> None:
    script = _script()
    cores = script.cores_on("cpu")
    assert {"lstm", "gates", "gru", "lstmp", "layernorm"} <= set(cores)
    assert all(ok for name, ok in cores.items() if name != "gates_equals_cudnn_max_abs")
    assert cores["gates_equals_cudnn_max_abs"] < 1e-5
    attributions = script.attributions_on("cpu")
    assert attributions["max_abs_difference"] == 0.0 and attributions["delta_max"] < 1.0
    speed = script.lstm_speed("cpu", 2, 4, 8, 16, 1)
    assert set(speed) == {"fp32", "bf16"} and all(v > 0 for v in speed.values())


def test_without_cuda_the_script_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the script would run")
    assert _script().main(["out=unused"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CUDA device here") and err.count("\n") == 1


@pytest.mark.slow
def test_a_dry_run_on_the_cpu_trains_every_task_and_writes_its_figures(shared_data: Path, tmp_path: Path) -> None:
    assert _script().main([f"out={tmp_path}", "device=cpu", "steps=2", f"data_dir={shared_data}"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report["training"]) == {"sentiment", "classification", "generation"}
    assert "test/loss" in report["training"]["generation"] and report["device"] == "cpu"
