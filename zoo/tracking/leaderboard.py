"""The zoo's leaderboard: one row per recipe, read back from the registry (so the table, the
registry and the MLflow UI cannot disagree), written as markdown plus one comparison plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402


@dataclass
class Row:
    recipe: str
    task: str
    dataset: str
    variant: str
    depth: int
    width: int
    params: int
    metric: str
    value: float
    best_val: float
    reference: str
    reference_value: float
    minutes: float
    uri: str
    aliases: list[str]


def rows(tracking_uri: str, recipes: list[str]) -> list[Row]:
    """The newest registered version of each recipe."""
    client = mlflow.MlflowClient(tracking_uri)
    found: list[Row] = []
    for recipe in recipes:
        versions = client.search_model_versions(f"tags.`zoo.recipe` = '{recipe}'")
        if not versions:
            continue
        newest = max(versions, key=lambda v: int(v.version))
        version = client.get_model_version(newest.name, newest.version)  # search results carry no aliases
        run = client.get_run(version.run_id)
        p, m = run.data.params, run.data.metrics
        classifier = version.tags.get("task_kind") == "classifier"
        metric = "test/acc" if classifier else "test/loss"
        found.append(Row(
            recipe=recipe, task=p["task.name"], dataset=p["data.name"], variant=version.tags["variant"],
            depth=int(version.tags["depth"]), width=int(version.tags["width"]), params=int(version.tags["params"]),
            metric=metric, value=m[metric], best_val=m.get("val/best", float("nan")),
            reference=p.get("zoo_entry.reference", ""),
            reference_value=float(p.get("zoo_entry.reference_value", "nan")),
            minutes=(run.info.end_time - run.info.start_time) / 60000, uri=f"models:/{version.name}/{version.version}",
            aliases=sorted(version.aliases),
        ))
    return found


def markdown(table: list[Row]) -> str:
    lines = [
        "# lstm-zoo leaderboard",
        "",
        "Written by `make zoo` from the MLflow Model Registry (newest version of each recipe in",
        "`conf/experiment/`, seed 0, this repository's CPU machine). Classifiers: test accuracy;",
        "the language model: test loss in nats/char (its best validation loss is what the",
        "reference reports).",
        "",
        "| recipe | task | dataset | variant | depth | width | parameters | test metric | best val | "
        "published reference | training time | registry |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        metric = f"{r.metric} {r.value:.4f}"
        aliases = f" ({', '.join(r.aliases)})" if r.aliases else ""
        lines.append(f"| {r.recipe} | {r.task} | {r.dataset} | {r.variant} | {r.depth} | {r.width} | {r.params:,} | "
                     f"{metric} | {r.best_val:.4f} | {r.reference} | {r.minutes:.1f} min | `{r.uri}`{aliases} |")
    lines += ["", "![test metric per recipe against the published reference](docs/zoo.png)", ""]
    return "\n".join(lines)


def plot(table: list[Row], path: Path) -> None:
    """Classifier accuracy (%) and LM loss side by side, each with its reference marked."""
    classifiers = [r for r in table if r.metric == "test/acc"]
    models = [r for r in table if r.metric != "test/acc"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [max(len(classifiers), 1),
                                                                                   max(len(models), 1) + 1]})
    for ax, group, scale, label in ((axes[0], classifiers, 100, "test accuracy (%)"),
                                    (axes[1], models, 1, "loss (nats/char)")):
        names = [r.recipe for r in group]
        ax.bar(names, [r.value * scale for r in group], color="#4c72b0", label="zoo (test)")
        if scale == 1:
            ax.bar(names, [r.best_val for r in group], color="#55a868", width=0.4, label="zoo (best val)")
        ax.scatter(names, [r.reference_value for r in group], color="#c44e52", marker="D", zorder=3,
                   label="published reference")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=20)
        if scale == 100 and group:
            low = min(min(r.value * 100 for r in group), min(r.reference_value for r in group))
            ax.set_ylim(low - 8, 100)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("lstm-zoo recipes against published numbers")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
