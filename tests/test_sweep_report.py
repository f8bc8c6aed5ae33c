"""A sweep's plots show depth and width when they are tuned, and the report still draws
the rest when they are not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
from omegaconf import OmegaConf

from zoo.sweeps.search.report import _save_plots
from zoo.sweeps.search.space import suggest
from zoo.sweeps.search.spec import parse_sweep_spec

SPEC = parse_sweep_spec("t", OmegaConf.create({
    "recipe": ["task=classification"],
    "objectives": [{"metric": "val/acc", "direction": "maximize"}],
    "search_space": {"model.num_layers": {"type": "int", "low": 1, "high": 3},
                     "model.hidden_size": {"type": "int", "low": 8, "high": 64, "log": True},
                     "model.embedding_dropout": {"type": "float", "low": 0.0, "high": 0.5}},
    "sampler": {"name": "random", "seed": 0}, "pruner": "none",
}))


def _study(spec) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: sum(float(v) for v in suggest(t, spec.search_space).values()), n_trials=8)
    return study


def test_depth_and_width_are_plotted_when_tuned(tmp_path: Path) -> None:
    notes = _save_plots(_study(SPEC), SPEC, tmp_path)
    assert {"depth_width_contour.png", "depth_width_slice.png", "optimization_history.png"} <= {
        p.name for p in tmp_path.iterdir()}, notes
    assert not [n for n in notes if n.startswith("depth_width")]
    assert "model.num_layers" in (tmp_path / "plots.html").read_text()


def test_the_report_draws_without_depth_or_width(tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, search_space={k: v for k, v in SPEC.search_space.items()
                                                   if k != "model.hidden_size"})
    notes = _save_plots(_study(spec), spec, tmp_path)
    drawn = {p.name for p in tmp_path.iterdir()}
    assert "depth_width_slice.png" in drawn and "depth_width_contour.png" not in drawn, notes
    neither = tmp_path / "neither"
    neither.mkdir()
    spec = dataclasses.replace(spec, search_space={"model.embedding_dropout": SPEC.search_space[
        "model.embedding_dropout"]})
    notes = _save_plots(_study(spec), spec, neither)
    assert {p.name for p in neither.iterdir()} >= {"optimization_history.png", "plots.html"}, notes
    assert not any(p.name.startswith("depth_width") for p in neither.iterdir())
