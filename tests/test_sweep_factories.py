"""Samplers and pruners by `_target_`: any Optuna class is a YAML change only, the short
names stay aliases, and a bad block is one clear ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from omegaconf import OmegaConf

from zoo.errors import ConfigError
from zoo.sweeps.orchestration.storage import open_storage
from zoo.sweeps.search.space import suggest
from zoo.sweeps.search.spec import SweepSpec, load_sweep_config, parse_sweep_spec
from zoo.sweeps.search.studies import load_study, make_pruner, make_sampler

BASE: dict[str, Any] = {
    "recipe": ["task=classification"],
    "objectives": [{"metric": "val/acc", "direction": "maximize"}],
    "search_space": {"model.num_layers": {"type": "int", "low": 1, "high": 3},
                     "model.hidden_size": {"type": "int", "low": 8, "high": 64, "log": True}},
}
QMC = {"_target_": "optuna.samplers.QMCSampler", "seed": 0}
PERCENTILE = {"_target_": "optuna.pruners.PercentilePruner", "percentile": 50.0, "n_startup_trials": 1}


def _spec(**changes: Any) -> SweepSpec:
    return parse_sweep_spec("t", OmegaConf.create({**BASE, **changes}))


def _toy(spec: SweepSpec):
    """A stand-in for training: reports one value per 'epoch', stopping when pruned."""

    def objective(trial: optuna.Trial) -> float:
        chosen = suggest(trial, spec.search_space)
        value = chosen["model.num_layers"] + chosen["model.hidden_size"] / 64
        for step in range(3):
            trial.report(value * (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    return objective


def test_a_sampler_and_pruner_without_alias_run_a_study(tmp_path: Path) -> None:
    spec = _spec(sampler=QMC, pruner=PERCENTILE, n_trials=4)
    assert spec.sampler == QMC and spec.pruner == PERCENTILE  # kept as written
    study = load_study(spec, open_storage(f"sqlite:///{tmp_path}/optuna.db"))
    assert isinstance(study.sampler, optuna.samplers.QMCSampler)
    assert isinstance(study.pruner, optuna.pruners.PercentilePruner)
    study.optimize(_toy(spec), n_trials=spec.n_trials)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(done) == 4
    assert all(1 <= t.params["model.num_layers"] <= 3 and 8 <= t.params["model.hidden_size"] <= 64 for t in done)


def test_aliases_are_targets_with_defaults_and_workers_shift_the_seed() -> None:
    tpe = make_sampler(_spec(sampler={"name": "tpe", "seed": 0}))
    assert isinstance(tpe, optuna.samplers.TPESampler) and tpe._multivariate and tpe._constant_liar
    assert isinstance(make_pruner(_spec(pruner="none")), optuna.pruners.NopPruner)
    spec = _spec(sampler={"name": "random", "seed": 0})
    shifted = make_sampler(spec, offset=7)
    same = make_sampler(_spec(sampler={"_target_": "optuna.samplers.RandomSampler", "seed": 7}))
    studies = [optuna.create_study(sampler=s) for s in (shifted, same)]
    for study in studies:
        study.optimize(_toy(spec), n_trials=2)
    assert [t.params for t in studies[0].trials] == [t.params for t in studies[1].trials]


def test_multi_objective_studies_are_not_pruned() -> None:
    spec = _spec(objectives=[*BASE["objectives"], {"metric": "model/params", "direction": "minimize"}],
                 sampler={"name": "nsga2"}, pruner=PERCENTILE)
    assert isinstance(make_pruner(spec), optuna.pruners.NopPruner)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sampler", {"_target_": "optuna.samplers.QMCSamplr"},
     r"sampler._target_='optuna.samplers.QMCSamplr' does not import \(.*'QMCSamplr'\); give the full path"),
    ("pruner", {"_target_": "optuna.samplers.QMCSampler"},
     r"pruner._target_='optuna.samplers.QMCSampler' is not an Optuna pruner"),
    ("pruner", {**PERCENTILE, "percentil": 5},
     r"pruner optuna.pruners.PercentilePruner with options .*'percentil'.*PercentilePruner takes percentile,"),
    ("sampler", {"name": "tpe", "_target_": "optuna.samplers.TPESampler"}, "gives both name='tpe' and _target_"),
    ("pruner", ["median"], r"pruner=\['median'\] must be a name \(median, hyperband, threshold, none\)"),
    ("pruner", {"name": "patient"}, r"choose one of median, hyperband, threshold, none, or give pruner._target_"),
])
def test_bad_blocks_say_which_and_how_to_fix(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _spec(**{field: value})


def test_command_line_names_another_factory_or_changes_the_block() -> None:
    """sentiment_sst2 writes its pruner as a `_target_`; the names users type still replace it."""
    spec = parse_sweep_spec("sentiment_sst2", load_sweep_config("sentiment_sst2", {"pruner": {"name": "none"}}))
    assert spec.pruner == {"name": "none"}
    cfg = load_sweep_config("sentiment_sst2", {"sampler": {"seed": 1}, "pruner": {"max_resource": 4}})
    spec = parse_sweep_spec("sentiment_sst2", cfg)
    assert spec.sampler == {"name": "tpe", "seed": 1, "n_startup_trials": 4}
    assert spec.pruner["_target_"] == "optuna.pruners.HyperbandPruner" and spec.pruner["max_resource"] == 4
    cfg = load_sweep_config("sentiment_sst2", {"sampler": {"_target_": "optuna.samplers.QMCSampler"}})
    assert parse_sweep_spec("sentiment_sst2", cfg).sampler == QMC  # the seed is kept
