"""The promotion gate and the rule it applies: `champion` moves only to a version whose task
kind's primary test metric beats the current champion's, compared on seed means when the
version stands for a recipe benchmarked over seeds, on its single test figure otherwise
(`force=true` overrides the gate, and says so). Promotion, reproduction and the leaderboard
all read a version's merit here."""

from __future__ import annotations

from collections.abc import Mapping

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from zoo.errors import ZooError
from zoo.registry.tags import metric_tag as tag_key
from zoo.registry.versions import CHAMPION, resolve_version
from zoo.stats import Summary
from zoo.tasks import TaskKind, kind
from zoo.tracking.store import TRUNCATED_TAG

STATS = ("mean", "std", "ci95_low", "ci95_high")


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


def promote(name: str, ref: str, tracking_uri: str) -> str:
    """Make version `ref` the champion if it beats the current one on the test metric."""
    client = mlflow.MlflowClient(tracking_uri)
    candidate = resolve_version(client, name, ref)
    task_kind = version_kind(candidate.tags)
    metric, direction = task_kind.primary, task_kind.direction
    key = metric.replace("/", "_")
    if key not in candidate.tags:
        raise ZooError(f"{name} v{candidate.version} has no {metric} (its run skipped the test split), so it "
                       "cannot be compared; retrain with test=true and register that run")
    if candidate.tags.get(TRUNCATED_TAG) == "true":
        raise ZooError(f"{name} v{candidate.version} was cut short by trainer.max_time, so its {metric} depends on "
                       "the machine's speed; retrain it with an epoch or step budget (no trainer.max_time)")
    value, measured = merit(candidate.tags, metric)
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        champion = None
    if champion is not None and str(champion.version) == str(candidate.version):
        return f"{name} v{candidate.version} is already the champion ({measured})"
    if champion is not None:
        best, best_measured = merit(champion.tags, metric)
        if not direction.better(value, best):
            return f"kept champion {name} v{champion.version} ({best_measured}); v{candidate.version} has {measured}"
    client.set_registered_model_alias(name, CHAMPION, candidate.version)
    before = f" over v{champion.version} ({merit(champion.tags, metric)[1]})" if champion else " (no champion before)"
    return f"promoted {name} v{candidate.version} to champion: {measured}{before}"


def force_champion(name: str, ref: str, tracking_uri: str) -> str:
    """Make version `ref` the champion WITHOUT the promotion gate (`force=true`); says what it overrode."""
    client = mlflow.MlflowClient(tracking_uri)
    candidate = resolve_version(client, name, ref)
    metric = version_kind(candidate.tags).primary
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        champion = None

    def worth(version: ModelVersion) -> str:
        return merit(version.tags, metric)[1] if tag_key(metric) in version.tags else f"no {metric}"

    client.set_registered_model_alias(name, CHAMPION, candidate.version)
    if champion is None:
        replaced = "there was no champion"
    elif str(champion.version) == str(candidate.version):
        replaced = "it already was the champion"
    else:
        replaced = f"replaced v{champion.version} ({worth(champion)})"
    return (f"FORCED {name} v{candidate.version} ({worth(candidate)}) to champion without the promotion gate "
            f"(force=true); {replaced}")
