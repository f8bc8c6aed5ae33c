"""The comparison as a page section (`docs/lstm-or-not.md`) and a plot: accuracy (or loss)
against batch-1 latency with the Pareto front marked, and the verdict table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from zoo.direction import Direction
from zoo.figures import figure
from zoo.sweeps.compare.evidence import Contender, Verdict
from zoo.sweeps.compare.spec import CompareSpec

HEADER = """# LSTM or another model?

Written by `make compare` (`python -m zoo.compare spec=compare_<dataset>`): one section per
comparison, rewritten when it runs again. Each architecture gets the same Optuna trial
budget over its own search space, on the same recipe (data, tokenizer and vocabulary, epoch
bound, early stopping); its best configuration is then trained on the same seeds. The
reference is the LSTM with the best validation mean (chosen without the test split); every
other architecture is tested against it on the test metric by Welch's test over seeds and by
a paired bootstrap over the test examples of the seed ensembles, both Holm-corrected. Costs
are measured in one process on one machine after training: parameters, training CPU-seconds
to the best epoch (mean over seeds), batch-1 latency of the bare network (p50/p95), batched
throughput, and the registered text-in model end to end. Language models are scored on
`test/loss_sliding`: every character once, from a fresh window, with at least half a window
of context, so a recurrent core's carried state and a transformer's window count alike.
"""


@dataclass
class Table:
    """The comparison's numbers, ready to print."""

    spec: CompareSpec
    metric: str
    direction: Direction
    contenders: list[Contender]
    reference: Contender
    verdicts: dict[str, Verdict]
    verdict: str
    seconds: float = 0.0  # this invocation's wall time
    trial_seconds: float = 0.0  # every trial and seed run of the comparison, summed over workers


def pareto(contenders: list[Contender], direction: Direction, length: int) -> list[Contender]:
    """Architectures no other beats on both the test metric and batch-1 latency."""
    def latency(c: Contender) -> float:
        return c.cost.latency_ms[length]["p50"] if c.cost else float("inf")

    front = []
    for c in contenders:
        dominated = any(o is not c and latency(o) <= latency(c) and not direction.better(c.test.mean, o.test.mean)
                        and (latency(o) < latency(c) or direction.better(o.test.mean, c.test.mean))
                        for o in contenders)
        if not dominated:
            front.append(c)
    return sorted(front, key=latency)


def plot(table: Table, path: Path) -> Path:
    length = 20 if 20 in table.spec.cost["lengths"] else table.spec.cost["lengths"][0]
    front = pareto(table.contenders, table.direction, length)
    with figure(path, (7, 4.5)) as (_, ax):
        for c in table.contenders:
            x = c.cost.latency_ms[length]["p50"] if c.cost else float("nan")
            color = "#d95f02" if c.lstm else "#1b9e77"
            ax.errorbar(x, c.test.mean, yerr=c.test.std, fmt="o", color=color, capsize=3,
                        markersize=9 if c in front else 6)
            ax.annotate(c.arch, (x, c.test.mean), textcoords="offset points", xytext=(6, 6), fontsize=9)
        ax.plot([c.cost.latency_ms[length]["p50"] for c in front if c.cost], [c.test.mean for c in front if c.cost],
                "--", color="grey", label="Pareto front")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_xlabel(f"batch-1 latency at {length} tokens, p50 (ms, log scale)")
        ax.set_ylabel(f"{table.metric}, mean ± std over {table.spec.seeds} seeds "
                      f"({'higher' if table.direction.higher_is_better else 'lower'} is better)")
        ax.set_title(f"{table.spec.name}: LSTMs (orange) and other models (green)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    return path


def configuration(c: Contender, recipe: list[str]) -> str:
    """The overrides that make this architecture's winner, floats to 3 significant digits."""
    parts = []
    for override in c.result.arm.overrides:
        if override in recipe or override.startswith("task.monitor"):
            continue
        key, _, value = override.partition("=")
        try:
            value = f"{float(value):.3g}" if "." in value or "e" in value else value
        except ValueError:
            pass
        parts.append(f"{key.removeprefix('model.').removeprefix('task.module.')}={value}")
    return " ".join(parts)


def _ms(c: Contender, length: int) -> str:
    if c.cost is None or length not in c.cost.latency_ms:
        return "-"
    figure = c.cost.latency_ms[length]
    return f"{figure['p50']:.2f} / {figure['p95']:.2f}"


def markdown(table: Table, plot_name: str | None) -> str:
    spec, metric = table.spec, table.metric
    lengths = list(spec.cost["lengths"])
    lines = [f"## `{spec.name}`", "", spec.description, "",
             f"**Verdict: {table.verdict}.**", "",
             f"- recipe: `{' '.join(spec.recipe)}`; objective {spec.shared['objective']['metric']} "
             f"({spec.shared['objective']['direction']}); {spec.shared.get('n_trials', 20)} trials per architecture, "
             f"{spec.seeds} seeds each; test metric {metric}; alpha {spec.alpha}",
             f"- reference: `{table.reference.arch}` (the LSTM with the best mean val/best)",
             f"- training time: {table.trial_seconds / 60:.0f} min of trials and seed runs, summed over the "
             f"workers (this report's run: {table.seconds / 60:.0f} min)", "",
             "| architecture | best configuration | params | " + f"{metric} (seeds) | 95% CI | val/best | "
             "ensemble | CPU-s to best | " + " | ".join(f"ms p50/p95 @{n}" for n in lengths)
             + " | batched tokens/s | pyfunc ms p50/p95 |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(lengths) + "---|---|"]
    for c in table.contenders:
        best = configuration(c, spec.recipe)
        cost = c.cost
        ensemble = f"{c.ensemble[metric]:.4f}" if c.ensemble and metric in c.ensemble else "-"
        cpu = f"{cost.train_cpu_s_to_best:.0f}" if cost and cost.train_cpu_s_to_best is not None else "-"
        name = f"**{c.arch}** (reference)" if c is table.reference else c.arch
        lines.append(
            f"| {name} | `{best}` | {cost.params:,} | {c.test.text()} | [{c.test.ci95_low:.4f}, "
            f"{c.test.ci95_high:.4f}] | {c.val.mean:.4f} | {ensemble} | {cpu} | "
            + " | ".join(_ms(c, n) for n in lengths)
            + f" | {cost.throughput_tokens_s:,.0f} | {cost.pyfunc_ms['p50']:.2f} / {cost.pyfunc_ms['p95']:.2f} |"
            if cost else f"| {name} | `{best}` | - | {c.test.text()} | - | {c.val.mean:.4f} | {ensemble} | - |")
    lines += ["", f"### Against `{table.reference.arch}`", "",
              "| architecture | difference (seeds) | Welch p (Holm) | ensemble difference | bootstrap p (Holm) "
              "| call |",
              "|---|---|---|---|---|---|"]
    for arch, v in table.verdicts.items():
        boot = (f"{v.bootstrap.difference:+.4f} [{v.bootstrap.ci95_low:+.4f}, {v.bootstrap.ci95_high:+.4f}]"
                if v.bootstrap else "-")
        boot_p = f"{v.bootstrap.p_value:.3g} ({v.bootstrap_p_adjusted:.3g})" if v.bootstrap else "-"
        lines.append(f"| {arch} | {v.welch.difference:+.4f} [{v.welch.ci95_low:+.4f}, {v.welch.ci95_high:+.4f}] | "
                     f"{v.welch.p_value:.3g} ({v.welch_p_adjusted:.3g}) | {boot} | {boot_p} | {v.call} |")
    threads = table.contenders[0].cost.threads if table.contenders[0].cost else "?"
    lines += ["", f"Latency: one input of N random in-vocabulary tokens per call, {spec.cost['calls']} calls after "
              f"20 warm-up calls, torch threads {threads}; batched: {spec.cost['batch']} x {spec.cost['batch_tokens']} "
              "tokens; pyfunc: `mlflow.pyfunc.load_model(...).predict` on one text per call (a language model "
              f"generates {spec.cost['new_tokens']} characters)."]
    if plot_name:
        lines += ["", f"![{spec.name}: {metric} against latency]({plot_name})"]
    return "\n".join(lines) + "\n"
