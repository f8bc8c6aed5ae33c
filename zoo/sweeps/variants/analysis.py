"""The variant study: which recurrent core wins a random search over cores and hyperparameters,
read the way Greff et al. read theirs ("LSTM: A Search Space Odyssey", 2017).

A variant study is a sweep whose search space makes the config group `model` a categorical
over cores (`model: {type: categorical, choices: [peephole, np, cifg, ...]}`), sampled at
random like the paper's search, so every core sees the same distribution of hyperparameters
and the trials of one core are a sample of "how good is this core over the search space".
This module only reads a finished (or partly run) study; `zoo.study` loads the studies and
writes `docs/variants.md`.

Statistics, and why:

- per core: number of complete trials, best, median and quartiles of the first objective.
  Medians and quartiles, not means alone, because a random search gives skewed results
  (a few diverged trials drag a mean far more than a median); cores are ranked by median.
- against the reference core (`peephole`, the paper's vanilla LSTM V): Welch's t-test
  (`zoo.stats.welch`: unequal variances, since a core that fails often has a wider spread)
  on all complete trials of each core, two-sided. Greff et al. compared each variant with
  vanilla by Welch's t-test at p < 0.05; with one test per core we also apply a Bonferroni
  correction over the cores compared (p x m), so "significant" is a family-wise 5% claim.
  Both the raw and the corrected p-value are reported; the call uses the corrected one.
- hyperparameter importance: Optuna's fANOVA (the paper's method; random forest, seed 0)
  and PED-ANOVA (a second opinion that looks at what gets a trial into the top 10%), the
  core itself (`model`) among the parameters. Skipped below `MIN_IMPORTANCE_TRIALS`
  complete trials, where a forest of a handful of points says nothing.

Pruned and failed trials have no final value and are left out of every statistic; they are
counted per core, because a core that is pruned more often is worse in a way the complete
trials alone do not show.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from zoo.errors import ConfigError
from zoo.stats import welch
from zoo.sweeps.search.spec import SweepSpec

CORE_PARAM = "model"  # the config group whose value is the core
REFERENCE = "peephole"  # Greff et al.'s vanilla LSTM (V): every variant is V without one part
ALPHA = 0.05
MIN_IMPORTANCE_TRIALS = 8
WIDTH_PARAM = "model.hidden_size"
EVALUATORS = ("fANOVA", "PED-ANOVA")


@dataclass(frozen=True)
class CoreStats:
    """The complete trials of one core, on the first objective."""

    core: str
    values: tuple[float, ...]
    pruned: int = 0
    failed: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def q1(self) -> float:
        return float(np.percentile(self.values, 25))

    @property
    def q3(self) -> float:
        return float(np.percentile(self.values, 75))

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))


@dataclass(frozen=True)
class Test:
    """One core against the reference: Welch's t-test on their complete trials."""

    core: str
    n: int
    n_reference: int
    difference: float | None = None  # mean(core) - mean(reference), in the objective's units
    ci95_low: float | None = None
    ci95_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None  # Bonferroni: min(1, p x number of cores compared)
    significant: bool = False
    better: bool | None = None  # in the objective's direction; None when not tested

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @property
    def call(self) -> str:
        if not self.tested:
            return "not tested (fewer than 2 complete trials)"
        if not self.significant:
            return "no significant difference"
        return "significantly better" if self.better else "significantly worse"


def core_choices(spec: SweepSpec) -> tuple[str, ...]:
    """The cores a variant study compares: the choices of its `model` categorical."""
    param = spec.search_space.get(CORE_PARAM)
    if param is None or param.type != "categorical":
        raise ConfigError(
            f"sweep {spec.name}: its search space has no `{CORE_PARAM}` categorical, so it compares no cores; a "
            f"variant study needs e.g. `{CORE_PARAM}: {{type: categorical, choices: [{REFERENCE}, np, cifg, nfg]}}`")
    return tuple(str(c) for c in param.choices)


def collect(study: optuna.Study, spec: SweepSpec) -> tuple[list[CoreStats], list[str]]:
    """Per-core statistics of the complete trials, ranked by median (best first), and the
    choices that have no complete trial yet."""
    choices = core_choices(spec)
    values: dict[str, list[float]] = {c: [] for c in choices}
    pruned: dict[str, int] = dict.fromkeys(choices, 0)
    failed: dict[str, int] = dict.fromkeys(choices, 0)
    for trial in study.get_trials(deepcopy=False):
        core = trial.params.get(CORE_PARAM)
        if core is None:
            continue
        core = str(core)
        values.setdefault(core, [])
        if trial.state == TrialState.COMPLETE and trial.values:
            values[core].append(float(trial.values[0]))
        elif trial.state == TrialState.PRUNED:
            pruned[core] = pruned.get(core, 0) + 1
        elif trial.state == TrialState.FAIL:
            failed[core] = failed.get(core, 0) + 1
    direction = spec.objectives[0].direction
    stats = [CoreStats(c, tuple(v), pruned.get(c, 0), failed.get(c, 0)) for c, v in values.items() if v]
    stats.sort(key=lambda s: (direction.sort_key(s.median), s.core))
    return stats, [c for c, v in values.items() if not v]


def compare(cores: list[CoreStats], reference: str, maximize: bool, alpha: float = ALPHA
            ) -> tuple[dict[str, Test], int]:
    """Welch's t-test of every core against `reference`, Bonferroni-corrected over the cores
    that could be tested (two complete trials on each side); returns the tests and that count."""
    by_core = {s.core: s for s in cores}
    ref = by_core.get(reference)
    raw: dict[str, Test] = {}
    for s in cores:
        if s.core == reference:
            continue
        if ref is None or s.n < 2 or ref.n < 2:
            raw[s.core] = Test(s.core, s.n, ref.n if ref else 0)
            continue
        result = welch(s.values, ref.values)
        raw[s.core] = Test(s.core, s.n, ref.n, result.difference, result.ci95_low, result.ci95_high,
                           result.p_value, better=(result.difference > 0) == maximize and result.difference != 0)
    m = sum(1 for t in raw.values() if t.tested)
    tests = {}
    for core, t in raw.items():
        if t.tested:
            adjusted = min(1.0, t.p_value * m)  # type: ignore[operator]
            t = Test(**{**vars(t), "p_adjusted": adjusted, "significant": adjusted < alpha})
        tests[core] = t
    return tests, m


def _targets(spec: SweepSpec) -> tuple[Callable[[FrozenTrial], float] | None, Callable[[FrozenTrial], float] | None]:
    """(fANOVA target, PED-ANOVA target). A single-objective study needs none; PED-ANOVA takes
    lower as better when given a target, so a maximised first objective is negated for it."""
    if not spec.multi_objective:
        return None, None
    sign = -1.0 if spec.objectives[0].direction.higher_is_better else 1.0
    return (lambda t: t.values[0]), (lambda t: sign * t.values[0])


def importances(study: optuna.Study, spec: SweepSpec) -> tuple[dict[str, dict[str, float]], list[str]]:
    """fANOVA and PED-ANOVA importances over every tuned parameter, the core included; with
    fewer than MIN_IMPORTANCE_TRIALS complete trials, none (and a note saying so)."""
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if complete < MIN_IMPORTANCE_TRIALS:
        return {}, [f"importances skipped: {complete} complete trials (they need at least {MIN_IMPORTANCE_TRIALS})"]
    fanova_target, ped_target = _targets(spec)
    evaluators = {
        "fANOVA": (optuna.importance.FanovaImportanceEvaluator(seed=0), fanova_target),
        "PED-ANOVA": (optuna.importance.PedAnovaImportanceEvaluator(), ped_target),
    }
    out: dict[str, dict[str, float]] = {}
    notes = []
    for name, (evaluator, target) in evaluators.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = dict(optuna.importance.get_param_importances(study, evaluator=evaluator, target=target))
        except Exception as err:  # noqa: BLE001 - e.g. a search space that changed between trials
            notes.append(f"{name} importances not computed ({str(err).splitlines()[0] if str(err) else err!r})")
    return out, notes
