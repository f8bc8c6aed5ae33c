"""The zoo's leaderboard: one row per recipe, read back from the registry (so the table, the
registry and the MLflow UI cannot disagree), written as markdown plus one comparison plot.

The rows are also saved as JSON (`docs/zoo.json`). A `make zoo only=...` that retrains some
recipes into a fresh store keeps the earlier rows of the others from that file, marked with
the date and store they were measured in, so the table and the figure always show every
recipe, and nothing measured is copied into them by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from zoo.registry.gate import merit, version_kind  # noqa: E402
from zoo.registry.tags import Architecture, metric_tag  # noqa: E402


@dataclass
class Row:
    recipe: str
    task: str
    dataset: str
    encoder: str
    depth: int
    width: int
    params: int
    metric: str
    value: float  # the seed mean when the recipe was benchmarked over seeds
    best_val: float
    reference: str
    reference_value: float
    minutes: float
    uri: str
    aliases: list[str]
    std: float | None = None  # over seeds; None for a single run
    n: int = 1
    ensemble: bool = False
    measured: str = ""  # the UTC date the registered run ended
    kept: bool = False  # from an earlier leaderboard: not in the registry this one was written from

    @property
    def key(self) -> tuple[str, bool]:
        return self.recipe, self.ensemble

    @property
    def registry(self) -> str:
        if self.kept:
            return f"earlier store, {self.measured}" + (f" (`{self.uri}` there)" if self.uri else "")
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"`{self.uri}`{aliases}"

    @property
    def label(self) -> str:
        return f"{self.recipe} (ensemble of {self.n})" if self.ensemble else self.recipe

    def figure(self) -> str:
        if self.ensemble or self.std is None:
            return f"{self.metric} {self.value:.4f}"
        return f"{self.metric} {self.value:.4f} ± {self.std:.4f} ({self.n})"


def _row(client: mlflow.MlflowClient, recipe: str, newest) -> Row:
    version = client.get_model_version(newest.name, newest.version)  # search results carry no aliases
    run = client.get_run(version.run_id)
    p, m, tags = run.data.params, run.data.metrics, version.tags
    metric = version_kind(tags).primary
    ensemble = tags.get("zoo.ensemble") == "true"
    value, _ = merit(tags, metric)
    key = metric_tag(metric)
    architecture = Architecture.read(tags)
    seeds = f"{key}_std" in tags and not ensemble
    best_val = float(tags["val_best_mean"]) if seeds and "val_best_mean" in tags else m.get("val/best", float("nan"))
    return Row(
        recipe=recipe, task=p["task.name"], dataset=p["data.name"], encoder=architecture.encoder,
        depth=architecture.depth, width=architecture.width, params=architecture.params,
        metric=metric, value=value, best_val=best_val,
        reference=p.get("zoo_entry.reference", ""), reference_value=float(p.get("zoo_entry.reference_value", "nan")),
        minutes=(run.info.end_time - run.info.start_time) / 60000, uri=f"models:/{version.name}/{version.version}",
        aliases=sorted(version.aliases), std=float(tags[f"{key}_std"]) if seeds else None,
        n=int(tags.get("n_members" if ensemble else "n_seeds", "1")), ensemble=ensemble,
        measured=datetime.fromtimestamp(run.info.end_time / 1000, UTC).date().isoformat(),
    )


def rows(tracking_uri: str, recipes: list[str]) -> list[Row]:
    """The newest registered version of each recipe, and the newest seed ensemble of it."""
    client = mlflow.MlflowClient(tracking_uri)
    found: list[Row] = []
    for recipe in recipes:
        versions = client.search_model_versions(f"tags.`zoo.recipe` = '{recipe}'")
        for ensemble in (False, True):
            kind = [v for v in versions if (v.tags.get("zoo.ensemble") == "true") == ensemble]
            if kind:
                found.append(_row(client, recipe, max(kind, key=lambda v: int(v.version))))
    return found


def save_rows(table: Sequence[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in table], indent=1, ensure_ascii=False) + "\n")


def load_rows(path: Path) -> list[Row]:
    """The rows a previous leaderboard saved; none when there is no such file."""
    if not path.exists():
        return []
    names = {f.name for f in fields(Row)}
    return [Row(**{k: v for k, v in raw.items() if k in names}) for raw in json.loads(path.read_text())]


def merge(fresh: Sequence[Row], earlier: Sequence[Row], recipes: Sequence[str]) -> list[Row]:
    """The registry's rows, and the earlier rows of recipes it does not hold (still in
    `recipes`), marked as kept; in recipe order, each recipe's seed ensemble after it."""
    table = {r.key: r for r in fresh}
    for row in earlier:
        if row.recipe in recipes and row.key not in table:
            table[row.key] = replace(row, kept=True, aliases=[])
    order = {recipe: i for i, recipe in enumerate(recipes)}
    return sorted(table.values(), key=lambda r: (order[r.recipe], r.ensemble))


def markdown(table: list[Row]) -> str:
    lines = [
        "# lstm-zoo leaderboard",
        "",
        "Written by `make zoo` from the MLflow Model Registry (newest version of each recipe in",
        "`conf/experiment/`, this repository's 2-core CPU machine). Classifiers: test accuracy;",
        "the language model: test loss in nats/char (its best validation loss is what the",
        "reference reports). A figure `mean ± std (n)` is over n seeds (`make zoo SEEDS=n`); the",
        "registry holds the seed-0 model of each recipe, tagged with those statistics. An",
        "`(ensemble of n)` row is one model averaging the class probabilities of the n seed models.",
        *([
            "A row whose registry cell reads `earlier store, <date>` was not retrained by the `make zoo`",
            "that wrote this table (its `only=` named other recipes): it is kept, as measured on that",
            "date in another registry, from `docs/zoo.json`, the rows the previous table was written from.",
        ] if any(r.kept for r in table) else []),
        "",
        "| recipe | task | dataset | encoder | depth | width | parameters | test metric | best val | "
        "published reference | training time | registry |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(f"| {r.label} | {r.task} | {r.dataset} | {r.encoder} | {r.depth} | {r.width} | {r.params:,} | "
                     f"{r.figure()} | {r.best_val:.4f} | {r.reference} | {r.minutes:.1f} min | {r.registry} |")
    lines += ["", "![test metric per recipe against the published reference](docs/zoo.png)", ""]
    return "\n".join(lines)


def plot(table: list[Row], path: Path) -> None:
    """Classifier accuracy (%) and LM loss side by side, error bars of one std over seeds,
    each with its reference marked; legends below the axes so they never hide a bar."""
    classifiers = [r for r in table if r.metric == "test/acc"]
    models = [r for r in table if r.metric != "test/acc"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [max(len(classifiers), 1),
                                                                                   max(len(models), 1) + 1]})
    for ax, group, scale, label in ((axes[0], classifiers, 100, "test accuracy (%)"),
                                    (axes[1], models, 1, "loss (nats/char)")):
        names = [f"{r.recipe}\n(ensemble of {r.n})" if r.ensemble else r.recipe for r in group]
        values = [r.value * scale for r in group]
        colors = ["#8172b3" if r.ensemble else "#4c72b0" for r in group]
        ax.bar(names, values, color=colors, label="zoo (test; mean over seeds)")
        spread = [(n, v, r.std * scale) for n, v, r in zip(names, values, group, strict=True) if r.std is not None]
        if spread:
            ax.errorbar([n for n, _, _ in spread], [v for _, v, _ in spread], yerr=[e for _, _, e in spread],
                        fmt="none", ecolor="black", capsize=4, label="± 1 std over seeds")
        if scale == 1:
            ax.bar(names, [r.best_val for r in group], color="#55a868", width=0.4, label="zoo (best val)")
        ax.scatter(names, [r.reference_value for r in group], color="#c44e52", marker="D", zorder=3,
                   label="published reference")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelsize=8)
        plt.setp(ax.get_xticklabels(), rotation=40, ha="right")
        if scale == 100 and group:
            low = min(min(r.value * 100 for r in group), min(r.reference_value for r in group))
            ax.set_ylim(low - 8, 100)
        handles, _ = ax.get_legend_handles_labels()
        if any(r.ensemble for r in group):
            handles.append(Patch(color="#8172b3", label="seed ensemble (test)"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.45), fontsize=8, ncol=2,
                  frameon=False)
    fig.suptitle("lstm-zoo recipes against published numbers")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
