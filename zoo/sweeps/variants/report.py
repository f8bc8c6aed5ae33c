"""A variant study's whole report, computed from its Optuna study: per-core statistics, tests
against the reference core, importances and the comparison with Greff et al. (rendered by
`zoo.sweeps.variants.render`)."""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from zoo.errors import ConfigError
from zoo.sweeps.orchestration.storage import counts
from zoo.sweeps.search.spec import SweepSpec
from zoo.sweeps.variants.analysis import (
    ALPHA,
    CORE_PARAM,
    REFERENCE,
    CoreStats,
    Test,
    collect,
    compare,
    core_choices,
    importances,
)
from zoo.sweeps.variants.findings import Finding, paper_findings


@dataclass
class VariantReport:
    spec: SweepSpec
    study_name: str
    reference: str
    cores: list[CoreStats]  # ranked by median, best first
    untried: list[str]  # choices without a complete trial
    tests: dict[str, Test]
    compared: int  # cores in the Bonferroni family
    importances: dict[str, dict[str, float]]  # evaluator -> {param: importance}, most important first
    notes: list[str]
    findings: list[Finding]
    counts: dict[str, int]
    epochs: int = 0
    seconds: float = 0.0
    alpha: float = ALPHA

    @property
    def metric(self) -> str:
        return self.spec.objectives[0].metric

    @property
    def maximize(self) -> bool:
        return self.spec.objectives[0].direction.higher_is_better


def analyse(study: optuna.Study, spec: SweepSpec, reference: str = REFERENCE, alpha: float = ALPHA) -> VariantReport:
    """The whole report of one variant study. Refuses a study that compares no cores, whose
    choices lack the reference, or that has no complete trial yet."""
    choices = core_choices(spec)
    if reference not in choices:
        raise ConfigError(f"sweep {spec.name}: the reference core {reference!r} is not among its `{CORE_PARAM}` "
                          f"choices {list(choices)}; add it to the spec or give reference=<one of them>")
    cores, untried = collect(study, spec)
    if not cores:
        raise ConfigError(f"study {spec.study_name!r} (sweep {spec.name}) has no complete trials yet; run "
                          f"`make study` (or `make sweep SWEEP={spec.name}`) first")
    tests, compared = compare(cores, reference, spec.objectives[0].direction.higher_is_better, alpha)
    imp, notes = importances(study, spec)
    if reference in untried:
        notes.append(f"the reference core `{reference}` has no complete trial: nothing could be tested against it")
    trials = study.get_trials(deepcopy=False)
    return VariantReport(
        spec=spec, study_name=study.study_name, reference=reference, cores=cores, untried=untried, tests=tests,
        compared=compared, importances=imp, notes=notes, findings=paper_findings(tests, reference, imp, spec),
        counts=counts(study), epochs=sum(int(t.user_attrs.get("epochs", 0) or 0) for t in trials),
        seconds=sum(float(t.user_attrs.get("seconds", 0) or 0) for t in trials), alpha=alpha)


