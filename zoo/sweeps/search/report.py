"""What a sweep leaves in its parent MLflow run: the trials table, Optuna's plots (HTML and
PNG), the Pareto front for multi-objective sweeps, and a markdown summary."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from zoo.sweeps.orchestration.storage import counts  # noqa: E402
from zoo.sweeps.search.spec import SweepSpec  # noqa: E402

DEPTH, WIDTH = "model.num_layers", "model.hidden_size"
# parameter importances and contours are fitted to the complete trials: below this many they
# read noise as structure (3 trials gave "dropout 0.73" and a contour interpolated from 3 points)
MIN_TRIALS_FOR_FITTED_PLOTS = 8
FITTED_PLOTS = ("param_importances", "depth_width_contour")


def _value_text(trial: optuna.trial.FrozenTrial) -> str:
    if trial.values is None:
        return "-"
    return ", ".join(f"{v:.4g}" for v in trial.values)


def ranked(study: optuna.Study, spec: SweepSpec) -> list[optuna.trial.FrozenTrial]:
    """Complete trials, best first (on the first objective)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(done, key=lambda t: spec.objectives[0].direction.sort_key(t.values[0]))


def top_table(study: optuna.Study, spec: SweepSpec, limit: int = 5) -> str:
    """Markdown table of the best trials."""
    keys = list(spec.search_space)
    names = [o.metric for o in spec.objectives]
    rows = [f"| trial | {' | '.join(names)} | {' | '.join(keys)} | epochs | seconds |",
            "|" + "---|" * (len(names) + len(keys) + 3)]
    for trial in ranked(study, spec)[:limit]:
        params = [str(trial.params.get(k, "-")) if not isinstance(trial.params.get(k), float)
                  else f"{trial.params[k]:.4g}" for k in keys]
        rows.append(f"| {trial.number} | {_value_text(trial).replace(', ', ' | ')} | {' | '.join(params)} | "
                    f"{trial.user_attrs.get('epochs', '-')} | {trial.user_attrs.get('seconds', '-')} |")
    return "\n".join(rows)


def _figures(study: optuna.Study, spec: SweepSpec) -> dict[str, tuple[Any, Any]]:
    """name -> (plotly figure factory, matplotlib factory) for the plots this study supports."""
    vis, mpl = optuna.visualization, optuna.visualization.matplotlib
    first = spec.objectives[0].metric
    target = (lambda t: t.values[0]) if spec.multi_objective else None
    plots: dict[str, tuple[Any, Any]] = {
        "optimization_history": (
            lambda: vis.plot_optimization_history(study, target=target, target_name=first),
            lambda: mpl.plot_optimization_history(study, target=target, target_name=first)),
        "param_importances": (
            lambda: vis.plot_param_importances(study, target=target, target_name=first),
            lambda: mpl.plot_param_importances(study, target=target, target_name=first)),
    }
    tuned = [p for p in (DEPTH, WIDTH) if p in spec.search_space]  # drawn only when tuned
    if len(tuned) == 2:
        plots["depth_width_contour"] = (
            lambda: vis.plot_contour(study, params=tuned, target=target, target_name=first),
            lambda: mpl.plot_contour(study, params=tuned, target=target, target_name=first))
    if tuned:
        plots["depth_width_slice"] = (
            lambda: vis.plot_slice(study, params=tuned, target=target, target_name=first),
            lambda: mpl.plot_slice(study, params=tuned, target=target, target_name=first))
    if spec.multi_objective:
        names = [o.metric for o in spec.objectives]
        plots["pareto_front"] = (lambda: vis.plot_pareto_front(study, target_names=names),
                                 lambda: mpl.plot_pareto_front(study, target_names=names))
    return plots


def _save_plots(study: optuna.Study, spec: SweepSpec, folder: Path) -> list[str]:
    """Write every plot the study can draw; return notes on the ones it cannot (yet) or
    should not: importances and contours wait for MIN_TRIALS_FOR_FITTED_PLOTS complete trials."""
    notes, html_parts = [], []
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    for name, (plotly_fig, mpl_fig) in _figures(study, spec).items():
        if name in FITTED_PLOTS and complete < MIN_TRIALS_FOR_FITTED_PLOTS:
            notes.append(f"{name}: left out: only {complete} complete trial{'s' * (complete != 1)}, and a fit "
                         f"to fewer than {MIN_TRIALS_FOR_FITTED_PLOTS} shows noise as structure; it is drawn "
                         "once the study has that many (rerun with a larger n_trials)")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figure = plotly_fig()
                html_parts.append(figure.to_html(full_html=False, include_plotlyjs=not html_parts))
                mpl_fig()
                plt.gcf().set_size_inches(8, 5)
                plt.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
        except Exception as err:  # noqa: BLE001 - e.g. importances need >= 2 complete trials
            notes.append(f"{name}: not drawn ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
        finally:
            plt.close("all")
    if html_parts:
        (folder / "plots.html").write_text(
            "<html><head><meta charset='utf-8'><title>sweep plots</title></head><body>"
            + "\n".join(html_parts) + "</body></html>")
    return notes


def _pareto_csv(study: optuna.Study, spec: SweepSpec) -> str:
    names = [o.metric for o in spec.objectives]
    lines = ["trial," + ",".join(names) + "," + ",".join(spec.search_space)]
    for trial in sorted(study.best_trials, key=lambda t: t.number):
        lines.append(",".join([str(trial.number), *map(str, trial.values),
                               *(str(trial.params.get(k, "")) for k in spec.search_space)]))
    return "\n".join(lines) + "\n"


def summary_markdown(study: optuna.Study, spec: SweepSpec, storage: str, wall_s: float, notes: list[str]) -> str:
    c = counts(study)
    lines = [f"# Sweep `{spec.name}` (study `{spec.study_name}`)", "", spec.description, "",
             f"- storage: `{storage}`",
             f"- recipe: `{' '.join(spec.recipe)}`",
             f"- objectives: {', '.join(f'{o.metric} ({o.direction.optuna})' for o in spec.objectives)}",
             f"- sampler: {spec.sampler}, pruner: {spec.pruner}",
             f"- trials: {c['COMPLETE']} complete, {c['PRUNED']} pruned, {c['FAIL']} failed "
             f"(budget {spec.n_trials} complete or pruned)",
             f"- epochs trained: {sum(int(t.user_attrs.get('epochs', 0)) for t in study.trials)}",
             f"- wall time of this invocation: {wall_s:.0f} s", ""]
    if spec.multi_objective:
        lines += [f"## Pareto front ({len(study.best_trials)} trials)", "", "See `pareto_front.csv`.", ""]
    lines += ["## Top trials", "", top_table(study, spec), ""]
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    if failed:
        lines += ["## Failed trials", ""]
        lines += [f"- trial {t.number}: {t.user_attrs.get('fail_reason', 'worker died or heartbeat lost')}"
                  for t in failed]
        lines.append("")
    if notes:
        lines += ["## Plots not drawn", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def log_report(client: mlflow.MlflowClient, run_id: str, study: optuna.Study, spec: SweepSpec,
               storage: str, wall_s: float) -> str:
    """Log table, plots, Pareto front and summary to the parent run; return the summary."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study.trials_dataframe().to_csv(folder / "trials.csv", index=False)
        notes = _save_plots(study, spec, folder)
        if spec.multi_objective:
            (folder / "pareto_front.csv").write_text(_pareto_csv(study, spec))
        summary = summary_markdown(study, spec, storage, wall_s, notes)
        (folder / "summary.md").write_text(summary)
        client.log_artifacts(run_id, str(folder))
    c = counts(study)
    metrics = {"sweep/complete": c["COMPLETE"], "sweep/pruned": c["PRUNED"], "sweep/failed": c["FAIL"],
               "sweep/epochs_trained": sum(int(t.user_attrs.get("epochs", 0)) for t in study.trials),
               "sweep/wall_s": wall_s}
    best = ranked(study, spec)
    if best and not spec.multi_objective:
        metrics["sweep/best_value"] = best[0].values[0]
        client.set_tag(run_id, "sweep.best_trial", str(best[0].number))
        client.set_tag(run_id, "sweep.best_params", str(best[0].params))
    for key, value in metrics.items():
        client.log_metric(run_id, key, float(value))
    return summary
