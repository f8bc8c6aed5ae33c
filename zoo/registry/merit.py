"""What a registered version is worth: its task kind's primary test metric, the seed mean
when it was benchmarked over seeds, its single test figure otherwise. Promotion,
reproduction and the leaderboard all ask here."""

from __future__ import annotations

from collections.abc import Mapping

from zoo.stats import Summary
from zoo.tasks import TaskKind, kind

STATS = ("mean", "std", "ci95_low", "ci95_high")


def tag_key(metric: str) -> str:
    """MLflow metric name -> version tag name (`test/acc` -> `test_acc`)."""
    return metric.replace("/", "_")


def stats_tags(summaries: Mapping[str, Summary], parent_run_id: str) -> dict[str, str]:
    """Version tags for a model that stands for a recipe benchmarked over seeds."""
    tags = {"zoo.benchmark_run": parent_run_id}
    for metric, s in summaries.items():
        for stat, value in zip(STATS, (s.mean, s.std, s.ci95_low, s.ci95_high), strict=True):
            tags[f"{tag_key(metric)}_{stat}"] = f"{value:.6g}"
        tags["n_seeds"] = str(s.n)
    return tags


def version_kind(tags: Mapping[str, str]) -> TaskKind:
    """The task kind a version was registered as (its `task_kind` tag; classifier if none)."""
    return kind(tags.get("task_kind", "classifier"))


def merit(tags: Mapping[str, str], metric: str) -> tuple[float, str]:
    """(value, how it was measured): the seed mean if the version has one, else its run's figure."""
    key = tag_key(metric)
    if f"{key}_mean" in tags:
        n = tags.get("n_seeds", "?")
        return float(tags[f"{key}_mean"]), f"{metric} mean {float(tags[f'{key}_mean']):.4f} over {n} seeds"
    return float(tags[key]), f"{metric} {float(tags[key]):.4f}"
