"""The end of a sweep: prove the winner. A search picks its best trial on one seed and one
validation set, which can be noise; here the top trials are retrained over seeds, the best
validation mean wins, and the winner and the untuned recipe are compared on test over
more seeds (means, Welch interval and p-value). Only a winner that is better with
p < alpha is promoted."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import optuna
from omegaconf import OmegaConf

from zoo.stats import Comparison, welch
from zoo.sweeps.benchmark.arms import Arm, ArmResult
from zoo.sweeps.benchmark.replicates import run_arms
from zoo.sweeps.search.objective import monitor_overrides
from zoo.sweeps.search.report import ranked
from zoo.sweeps.search.space import to_overrides
from zoo.sweeps.search.spec import SweepSpec
from zoo.tasks import TaskKind


@dataclass
class Confirmation:
    candidates: list[tuple[int, ArmResult]]  # (trial number, its seed runs), best validation mean first
    winner_trial: int
    winner: ArmResult
    default: ArmResult
    metric: str
    higher: bool
    comparison: Comparison | None  # None when the winner is the default recipe itself
    alpha: float

    @property
    def proven(self) -> bool:
        """The winner beats the untuned recipe on test, significantly."""
        c = self.comparison
        if c is None:
            return False
        return (c.difference > 0 if self.higher else c.difference < 0) and c.p_value < self.alpha

    def verdict(self) -> str:
        if self.comparison is None:
            return f"the winner (trial {self.winner_trial}) is the default recipe: nothing to promote over it"
        better = "better" if self.proven else "not proven better"
        return (f"trial {self.winner_trial} is {better} than the default recipe on {self.metric}: "
                f"{self.comparison.a.text()} vs {self.comparison.b.text()}; {self.comparison.text()}")

    def markdown(self, objective: str) -> str:
        lines = ["## Confirmation", "",
                 f"Top {len(self.candidates)} trials retrained on {len(self.candidates[0][1].runs)} seeds each "
                 f"(mean {objective} at the best checkpoint):", "",
                 "| trial | val/best | test metric | MLflow parent run |", "|---|---|---|---|"]
        for number, result in self.candidates:
            lines.append(f"| {number} | {result.summaries['val/best'].text()} | "
                         f"{result.summaries[self.metric].text()} | {result.parent_run_id} |")
        lines += ["", f"Winner: trial {self.winner_trial}. On {self.metric} over {len(self.winner.runs)} seeds "
                  f"(winner) and {len(self.default.runs)} (default recipe):", "",
                  f"- winner: {self.winner.summaries[self.metric].text()}",
                  f"- default recipe: {self.default.summaries[self.metric].text()}",
                  f"- {self.comparison.text() if self.comparison else 'same recipe: no comparison'}",
                  f"- verdict: {self.verdict()} (alpha {self.alpha})", ""]
        return "\n".join(lines)


def trial_arm(spec: SweepSpec, trial: optuna.trial.FrozenTrial, seeds: int) -> Arm:
    overrides = [*spec.recipe, *to_overrides(trial.params), *monitor_overrides(spec), *spec.confirm.overrides]
    return Arm(f"{spec.study_name}-trial{trial.number}", overrides, list(range(seeds)),
               tags={"zoo.sweep": spec.name, "zoo.confirms_trial": str(trial.number)})


def default_arm(spec: SweepSpec) -> Arm:
    """The recipe the sweep tunes, with none of the search space's values."""
    return Arm(f"{spec.study_name}-default", [*spec.recipe, *monitor_overrides(spec), *spec.confirm.overrides],
               list(range(spec.confirm.final_seeds)), tags={"zoo.sweep": spec.name, "zoo.confirms_trial": "default"})


def same_recipe(a: Arm, b: Arm) -> bool:
    """Whether two arms compose the same training config (the winner may be the default point)."""
    def resolved(arm: Arm) -> dict:
        cfg = arm.compose()
        cfg.paths.output_dir = "/same"
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]

    return resolved(a) == resolved(b)


def confirm(study: optuna.Study, spec: SweepSpec, storage: optuna.storages.BaseStorage, parent_run_id: str,
            task_kind: TaskKind) -> Confirmation | None:
    """Run the confirmation stage (resumable: every arm is a benchmark study); None when the
    search has no complete trial. Recipes are compared on the task kind's primary test metric."""
    top = ranked(study, spec)[: spec.confirm.top_k]
    if not top:
        return None
    print(f"confirmation: top {len(top)} trials {[t.number for t in top]} over {spec.confirm.seeds} seeds",
          flush=True)
    arms = [trial_arm(spec, t, spec.confirm.seeds) for t in top]
    results = run_arms(arms, storage, nested_under=parent_run_id)
    direction = spec.objectives[0].direction
    ranked_results = sorted(zip(top, results, strict=True),
                            key=lambda pair: direction.sort_key(pair[1].summaries["val/best"].mean))
    best_trial, _ = ranked_results[0]
    metric, higher = task_kind.primary, task_kind.direction.higher_is_better
    winner_arm = trial_arm(spec, best_trial, spec.confirm.final_seeds)
    baseline = default_arm(spec)
    print(f"confirmation: trial {best_trial.number} wins on mean val/best; winner and default recipe over "
          f"{spec.confirm.final_seeds} seeds", flush=True)
    if same_recipe(winner_arm, baseline):
        winner = run_arms([winner_arm], storage, nested_under=parent_run_id)[0]
        return Confirmation([(t.number, r) for t, r in ranked_results], best_trial.number, winner, winner, metric,
                            higher, None, spec.confirm.alpha)
    winner, default = run_arms([winner_arm, baseline], storage, nested_under=parent_run_id)
    comparison = welch(winner.values(metric), default.values(metric))
    return Confirmation([(t.number, r) for t, r in ranked_results], best_trial.number, winner, default, metric,
                        higher, comparison, spec.confirm.alpha)


def log_confirmation(client: mlflow.MlflowClient, parent_run_id: str, result: Confirmation, summary: str,
                     objective: str) -> None:
    """The comparison as metrics and tags of the sweep's parent run, and in its summary.md."""
    key = result.metric.replace("/", "_")
    metrics = {"confirm/winner_trial": result.winner_trial,
               f"confirm/winner_{key}_mean": result.winner.summaries[result.metric].mean,
               f"confirm/winner_{key}_std": result.winner.summaries[result.metric].std,
               f"confirm/default_{key}_mean": result.default.summaries[result.metric].mean,
               f"confirm/default_{key}_std": result.default.summaries[result.metric].std}
    if result.comparison:
        metrics.update({"confirm/difference": result.comparison.difference,
                        "confirm/difference_ci95_low": result.comparison.ci95_low,
                        "confirm/difference_ci95_high": result.comparison.ci95_high,
                        "confirm/p_value": result.comparison.p_value})
    for name, value in metrics.items():
        client.log_metric(parent_run_id, name, float(value))
    client.set_tag(parent_run_id, "confirm.verdict", result.verdict()[:5000])
    client.set_tag(parent_run_id, "confirm.proven", str(result.proven).lower())
    client.log_text(parent_run_id, summary + "\n" + result.markdown(objective), "summary.md")
