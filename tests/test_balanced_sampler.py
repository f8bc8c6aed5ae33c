"""The variant study's sampler deals the core out evenly and draws the rest at random."""

from __future__ import annotations

from collections import Counter

import optuna

from zoo.sweeps.search.balanced import BalancedSampler, least_used
from zoo.sweeps.search.factories import build


def test_least_used_takes_the_first_of_the_rarest() -> None:
    assert least_used(["a", "b", "c"], []) == "a"
    assert least_used(["a", "b", "c"], ["a", "c"]) == "b"
    assert least_used(["a", "b", "c"], ["a", "b", "c", "a"]) == "b"


def _study(seed: int, failing: str | None = None) -> optuna.Study:
    study = optuna.create_study(sampler=BalancedSampler(param="model", seed=seed), direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        core = trial.suggest_categorical("model", ["peephole", "np", "cifg"])
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        if core == failing and trial.number < 3:
            raise RuntimeError("this trial fails")
        return lr

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study.optimize(objective, n_trials=12, catch=(RuntimeError,))
    return study


def test_every_core_gets_the_same_number_of_trials_and_the_rest_is_random() -> None:
    study = _study(seed=0)
    assert Counter(t.params["model"] for t in study.trials) == {"peephole": 4, "np": 4, "cifg": 4}
    assert len({t.params["lr"] for t in study.trials}) == 12
    again = _study(seed=0)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]  # seeded
    assert [t.params["lr"] for t in _study(seed=1).trials] != [t.params["lr"] for t in study.trials]


def test_a_failed_trial_gives_its_core_another_turn() -> None:
    study = _study(seed=0, failing="peephole")
    done = Counter(t.params["model"] for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert done == {"peephole": 3, "np": 3, "cifg": 3}  # trials 0-2 failed on peephole, then made up for
    assert Counter(t.params["model"] for t in study.trials)["peephole"] == 6


def test_the_variant_specs_build_it_by_target() -> None:
    sampler = build({"_target_": "zoo.sweeps.search.balanced.BalancedSampler", "param": "model", "seed": 0}, "sampler")
    assert isinstance(sampler, BalancedSampler) and sampler.param == "model"
