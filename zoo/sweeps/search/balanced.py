"""Random search with one categorical parameter dealt out evenly: the sampler of the variant
study (`sweeps/variants_*.yaml`, `_target_: zoo.sweeps.search.balanced.BalancedSampler`).

Greff et al. compared LSTM variants by the distribution of results of a random search per
variant. Drawing the variant at random too gives uneven counts (120 trials over 10 cores
leave some with 7 and some with 17), and a comparison of distributions wants the same n
for every core. So the chosen parameter (`model`, the core) goes to the choice with the
fewest trials so far, running ones included so parallel workers stay even, in the order
the choices are listed; every other parameter is drawn by Optuna's `RandomSampler`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState


class BalancedSampler(BaseSampler):
    """`param` round-robin over its choices (fewest trials first); the rest uniformly at random."""

    def __init__(self, param: str = "model", seed: int | None = None) -> None:
        self.param = param
        self._random = RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if param_name != self.param or not isinstance(param_distribution, CategoricalDistribution):
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        others = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                          TrialState.RUNNING, TrialState.WAITING))
        return least_used(param_distribution.choices,
                          [t.params[param_name] for t in others if t.number != trial.number and param_name in t.params])

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._random.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._random.after_trial(study, trial, state, values)


def least_used(choices: Sequence[Any], taken: Sequence[Any]) -> Any:
    """The first of `choices` with the fewest occurrences in `taken` (failed trials are not
    counted by the caller, so a core whose trial failed gets its turn again)."""
    counts = Counter(taken)
    return min(choices, key=lambda choice: counts[choice])
