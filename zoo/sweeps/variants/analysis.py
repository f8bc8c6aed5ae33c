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

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402

from zoo.errors import ConfigError  # noqa: E402
from zoo.stats import welch  # noqa: E402
from zoo.sweeps.orchestration.storage import counts  # noqa: E402
from zoo.sweeps.search.spec import SweepSpec  # noqa: E402
from zoo.sweeps.sections import write_sections  # noqa: E402

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


@dataclass(frozen=True)
class Finding:
    """One row of the comparison with Greff et al.: their finding, our numbers, the verdict
    (agree | disagree | inconclusive | not tested)."""

    claim: str
    ours: str
    verdict: str


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


def lr_param(spec: SweepSpec) -> str | None:
    """The tuned learning rate (`task.module.optimizer.lr`), if any."""
    return next((k for k in spec.search_space if re.search(r"(^|\.)(lr|learning_rate)$", k)), None)


def _hyper_rank(ranking: dict[str, float], key: str) -> int | None:
    """1-based rank of `key` among the hyperparameters (the core choice left out)."""
    order = [k for k in ranking if k != CORE_PARAM]
    return order.index(key) + 1 if key in order else None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _evidence(test: Test, report_ref: str) -> str:
    if not test.tested:
        return f"n={test.n} vs {test.n_reference}: too few complete trials to test"
    return (f"mean difference vs {report_ref} {test.difference:+.4f} (95% CI {test.ci95_low:+.4f} to "
            f"{test.ci95_high:+.4f}), Welch p={_fmt(test.p_value, 3)}, Bonferroni p={_fmt(test.p_adjusted, 3)}, "
            f"n={test.n} vs {test.n_reference}")


def _harm_finding(claim: str, core: str, tests: dict[str, Test], reference: str) -> Finding:
    """The paper says `core` is significantly worse than vanilla."""
    test = tests.get(core)
    if test is None:
        return Finding(claim, f"`{core}` is not in this study", "not tested")
    if not test.tested:
        return Finding(claim, f"`{core}`: {_evidence(test, reference)}", "inconclusive")
    if test.significant:
        verdict = "disagree" if test.better else "agree"
        return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", verdict)
    return Finding(claim, f"`{core}` not significantly different: {_evidence(test, reference)}",
                   f"inconclusive at n={test.n}")


def _no_harm_finding(claim: str, core: str, tests: dict[str, Test], reference: str) -> Finding:
    """The paper says `core` does no significant harm: agree unless we find it significantly
    worse (no harm at small n is weak support; the interval says how much harm it rules out)."""
    test = tests.get(core)
    if test is None:
        return Finding(claim, f"`{core}` is not in this study", "not tested")
    if not test.tested:
        return Finding(claim, f"`{core}`: {_evidence(test, reference)}", "inconclusive")
    if test.significant and not test.better:
        return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", "disagree")
    return Finding(claim, f"`{core}` {test.call}: {_evidence(test, reference)}", "agree")


def _importance_finding(claim: str, key: str | None, rank: int, importances_: dict[str, dict[str, float]],
                        what: str) -> Finding:
    """The paper ranks `key` `rank`-th among hyperparameters (fANOVA); agree when both our
    evaluators do, disagree when neither does, inconclusive when they split."""
    if key is None:
        return Finding(claim, f"{what} is not tuned in this study", "not tested")
    if not importances_:
        return Finding(claim, "importances not computed (too few complete trials)", "inconclusive")
    ranks = {name: _hyper_rank(r, key) for name, r in importances_.items()}
    parts = []
    for name, r in importances_.items():
        core_rank = list(r).index(CORE_PARAM) + 1 if CORE_PARAM in r else None
        where = f"rank {ranks[name]} of {len([k for k in r if k != CORE_PARAM])} hyperparameters" \
            if ranks[name] else "not evaluated"
        share = f" ({r[key]:.2f})" if key in r else ""
        core = f"; the core choice ranks {core_rank} of {len(r)} parameters" if core_rank and rank == 1 else ""
        parts.append(f"{name}: `{key}` {where}{share}{core}")
    hits = [ranks[n] == rank for n in ranks]
    verdict = "agree" if all(hits) else "disagree" if not any(hits) else "inconclusive (the evaluators split)"
    return Finding(claim, "; ".join(parts), verdict)


def paper_findings(tests: dict[str, Test], reference: str, importances_: dict[str, dict[str, float]],
                   spec: SweepSpec) -> list[Finding]:
    """Greff et al.'s findings next to ours, each decided from our tests and importance ranks."""
    tested = [t for t in tests.values() if t.tested]
    winners = [t for t in tested if t.significant and t.better]
    if not tested:
        first = Finding("No variant is significantly better than vanilla LSTM (V)",
                        f"no core could be tested against `{reference}`", "inconclusive")
    elif winners:
        first = Finding("No variant is significantly better than vanilla LSTM (V)",
                        "; ".join(f"`{t.core}` significantly better: {_evidence(t, reference)}" for t in winners),
                        "disagree")
    else:
        ahead = sorted((t for t in tested if t.better), key=lambda t: t.p_value or 1.0)
        closest = (f"closest: `{ahead[0].core}`, {_evidence(ahead[0], reference)}" if ahead
                   else f"every core's mean is behind `{reference}`'s")
        first = Finding("No variant is significantly better than vanilla LSTM (V)",
                        f"none of {len(tested)} cores is significantly better than `{reference}` ({closest})",
                        "agree")
    return [
        first,
        _no_harm_finding("Coupling input and forget gate (CIFG) does no significant harm", "cifg", tests, reference),
        _no_harm_finding("Removing peepholes (NP) does no significant harm", "np", tests, reference),
        _harm_finding("Removing the forget gate (NFG) hurts significantly", "nfg", tests, reference),
        _harm_finding("Removing the output activation (NOAF) hurts significantly", "noaf", tests, reference),
        _harm_finding("Removing the input activation (NIAF) hurts (on most datasets)", "niaf", tests, reference),
        _harm_finding("Removing the input gate (NIG) hurts (on some datasets)", "nig", tests, reference),
        _harm_finding("Removing the output gate (NOG) hurts (on some datasets)", "nog", tests, reference),
        _importance_finding("The learning rate is the most important hyperparameter", lr_param(spec), 1,
                            importances_, "the learning rate"),
        _importance_finding("Network size (hidden size) is the second most important",
                            WIDTH_PARAM if WIDTH_PARAM in spec.search_space else None, 2, importances_,
                            "the hidden size"),
    ]


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


def box_plot(report: VariantReport, path: Path) -> Path:
    """Horizontal boxes of each core's complete trials, best median on top; the reference in
    orange, cores significantly different from it with thick blue edges (as in the paper's
    Fig. 3); whiskers span the whole range, the dot is the mean."""
    cores = list(reversed(report.cores))  # boxplot draws the first box at the bottom
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.42 * len(cores)))
    try:
        boxes = ax.boxplot([list(s.values) for s in cores], orientation="horizontal", patch_artist=True,
                           whis=(0, 100), showmeans=True, widths=0.6,
                           tick_labels=[f"{s.core} (n={s.n})" for s in cores],
                           meanprops={"marker": "o", "markerfacecolor": "red", "markeredgecolor": "red",
                                      "markersize": 4},
                           medianprops={"color": "red"})
        for patch, s in zip(boxes["boxes"], cores, strict=True):
            test = report.tests.get(s.core)
            if s.core == report.reference:
                patch.set(facecolor="#f5a142", edgecolor="black", linewidth=1.2)
            elif test is not None and test.significant:
                patch.set(facecolor="#9ecae1", edgecolor="#08519c", linewidth=2.5)
            else:
                patch.set(facecolor="#e0e0e0", edgecolor="black", linewidth=1.0)
        for label in ax.get_yticklabels():
            if label.get_text().startswith(f"{report.reference} "):
                label.set_fontweight("bold")
        ax.set_xlabel(f"{report.metric} ({'higher' if report.maximize else 'lower'} is better)")
        ax.set_title(f"{report.spec.name}: cores ranked by median; reference {report.reference} (orange), "
                     f"significantly different in blue", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _recipe_text(spec: SweepSpec) -> str:
    return " ".join(spec.recipe) or "(the defaults)"


def section_markdown(report: VariantReport, plot_name: str | None) -> str:
    """One study's section of docs/variants.md: what ran, per-core table, tests against the
    reference, importances, the comparison with Greff et al., the plot."""
    spec, c = report.spec, report.counts
    metric = report.metric
    lines = [f"## `{spec.name}` (study `{report.study_name}`)", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [
        f"- task: `{_recipe_text(spec)}`",
        f"- objective: {metric} ({spec.objectives[0].direction.optuna}); reference core: `{report.reference}`",
        f"- cores: {', '.join(f'`{ch}`' for ch in core_choices(spec))}",
        f"- sampler: {spec.sampler}, pruner: {spec.pruner}",
        f"- trials: {c.get('COMPLETE', 0)} complete, {c.get('PRUNED', 0)} pruned, {c.get('FAIL', 0)} failed, "
        f"{c.get('RUNNING', 0)} running (budget {spec.n_trials} complete or pruned)",
        f"- budget spent: {report.epochs} epochs, {report.seconds / 60:.0f} min of trial time",
        "",
        f"### Cores ranked by median {metric}", "",
        "| rank | core | n | best | median | q1 | q3 | mean | pruned | failed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rank, s in enumerate(report.cores, 1):
        best = spec.objectives[0].direction.best(s.values)
        name = f"**{s.core}** (reference)" if s.core == report.reference else s.core
        lines.append(f"| {rank} | {name} | {s.n} | {best:.4f} | {s.median:.4f} | {s.q1:.4f} | {s.q3:.4f} | "
                     f"{s.mean:.4f} | {s.pruned} | {s.failed} |")
    if report.untried:
        lines += ["", f"No complete trial yet: {', '.join(f'`{u}`' for u in report.untried)}."]
    lines += ["", f"### Against `{report.reference}`", "",
              f"Welch's t-test on each core's complete trials against `{report.reference}`'s, two-sided; "
              f"Bonferroni over the {report.compared} cores tested; significant when the corrected p < "
              f"{report.alpha}. The difference is mean(core) - mean({report.reference}) in {metric}.", "",
              "| core | n | difference | 95% CI | Welch p | Bonferroni p | call |",
              "|---|---|---|---|---|---|---|"]
    for s in report.cores:
        t = report.tests.get(s.core)
        if t is None:
            continue
        if t.tested:
            lines.append(f"| {t.core} | {t.n} | {t.difference:+.4f} | {t.ci95_low:+.4f} to {t.ci95_high:+.4f} | "
                         f"{_fmt(t.p_value, 3)} | {_fmt(t.p_adjusted, 3)} | {t.call} |")
        else:
            lines.append(f"| {t.core} | {t.n} | - | - | - | - | {t.call} |")
    lines += ["", "### Hyperparameter importance", ""]
    if report.importances:
        params = list(next(iter(report.importances.values())))
        for ranking in report.importances.values():
            params += [p for p in ranking if p not in params]
        lines += [f"Share of the variance of {metric} (fANOVA, seed 0) and of what reaches the top 10% "
                  f"(PED-ANOVA); `{CORE_PARAM}` is the core.", "",
                  "| parameter | " + " | ".join(report.importances) + " |",
                  "|---|" + "---|" * len(report.importances)]
        for p in params:
            cells = [f"{r[p]:.3f}" if p in r else "-" for r in report.importances.values()]
            lines.append(f"| `{p}` | " + " | ".join(cells) + " |")
    lines += [*(f"- {n}" for n in report.notes), "", "### Against Greff et al. 2017", "",
              "| finding (Greff et al.) | ours | verdict |", "|---|---|---|"]
    lines += [f"| {f.claim} | {f.ours} | {f.verdict} |" for f in report.findings]
    if plot_name:
        lines += ["", f"![{spec.name}: {metric} per core]({plot_name})"]
    return "\n".join(lines) + "\n"


HEADER = """# Which LSTM? The variant study

Written by `make study` (`python -m zoo.study sweeps=...`): one section per study, rewritten
when its study is reported again. Each study is a random search over the LSTM cores of
Greff et al., "LSTM: A Search Space Odyssey" (2017) and the hyperparameters, so every core
is judged over the same distribution of hyperparameters. Per core: best, median and
quartiles of the complete trials (ranked by median); each core against the vanilla LSTM
(`peephole`) by Welch's t-test, Bonferroni-corrected over the cores compared (p < 0.05);
hyperparameter importance by fANOVA and PED-ANOVA (Optuna), the core among the
parameters. Pruned and failed trials have no value and are only counted. "inconclusive at
n=..." means the test found no significant difference either way with that many trials.
"""

@dataclass
class Written:
    """What `write_report` wrote."""

    markdown: Path
    plots: list[Path] = field(default_factory=list)


def plot_path(markdown: Path, spec: SweepSpec) -> Path:
    """`docs/variants_trec.png` for sweep `variants_trec` beside `docs/variants.md` (the
    markdown's stem is not repeated), `docs/variants_<sweep>.png` for any other name."""
    stem = markdown.stem
    return markdown.with_name(f"{stem}_{spec.name.removeprefix(stem + '_')}.png")


def write_report(reports: list[VariantReport], markdown: Path) -> Written:
    """One plot per study and one section per study in `markdown`."""
    written = Written(markdown)
    sections = {}
    for report in reports:
        plot = box_plot(report, plot_path(markdown, report.spec))
        written.plots.append(plot)
        sections[report.spec.name] = section_markdown(report, plot.name)
    write_sections(markdown, HEADER, sections)
    return written
