"""A variant study's report as a box plot and a section of `docs/variants.md`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zoo.figures import figure
from zoo.sweeps.search.spec import SweepSpec
from zoo.sweeps.sections import write_sections
from zoo.sweeps.variants.analysis import CORE_PARAM, core_choices
from zoo.sweeps.variants.findings import fmt
from zoo.sweeps.variants.report import VariantReport


def box_plot(report: VariantReport, path: Path) -> Path:
    """Horizontal boxes of each core's complete trials, best median on top; the reference in
    orange, cores significantly different from it with thick blue edges (as in the paper's
    Fig. 3); whiskers span the whole range, the dot is the mean."""
    cores = list(reversed(report.cores))  # boxplot draws the first box at the bottom
    with figure(path, (7.5, 1.2 + 0.42 * len(cores))) as (_, ax):
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
                         f"{fmt(t.p_value, 3)} | {fmt(t.p_adjusted, 3)} | {t.call} |")
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
