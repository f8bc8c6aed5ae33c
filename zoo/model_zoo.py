"""`zoo-zoo [only=sst2_lstm,trec_lstm] [seeds=3] [train=false]` (or `python -m zoo.model_zoo`;
`make zoo SEEDS=3`).

Trains every recipe in `conf/experiment/` with its fixed seed (or, with seeds=N, once per
seed 0..N-1 as a benchmark), registers each recipe's run (the seed-0 run, tagged with the
seed statistics), sets `challenger` and promotes to `champion` on merit (the seed mean when
there is one), and writes the leaderboard `ZOO.md` and `docs/zoo.png` from the registry
(recipes this store does not hold keep their rows from the previous table, marked so)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click
import optuna

from zoo.cli import Switch, ZooCommand
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT
from zoo.registry.gate import promote, stats_tags
from zoo.registry.leaderboard import Row, load_rows, markdown, merge, plot, rows, save_rows
from zoo.registry.loading import default_tracking_uri
from zoo.registry.versions import Registered, register_run
from zoo.sweeps.benchmark.arms import Arm
from zoo.sweeps.benchmark.replicates import run_arms
from zoo.sweeps.benchmark.run import OPTIONS, parse_seeds, recipes, report
from zoo.sweeps.orchestration.storage import open_storage, storage_url
from zoo.sweeps.orchestration.workers import quiet_libraries
from zoo.training.pipeline import run_training


def train_recipe(recipe: str, overrides: Sequence[str] = ()) -> Registered:
    """Train one recipe with its fixed seed, register it as `challenger`, promote on merit."""
    print(f"== {recipe}", flush=True)
    cfg = compose_config([f"experiment={recipe}", "callbacks.progress_bar.refresh_rate=0", *overrides])
    result = run_training(cfg, extra_tags={"zoo.recipe": recipe})
    entry = register_run(result.run_id, cfg.logger.tracking_uri, alias="challenger")
    print(f"{recipe}: {result.metrics} -> {entry.name} v{entry.version}", flush=True)
    print(promote(entry.name, entry.version, cfg.logger.tracking_uri), flush=True)
    return entry


def benchmark_recipe(recipe: str, seeds: list[int], storage: optuna.storages.BaseStorage,
                     overrides: Sequence[str] = ()) -> Registered:
    """Train a recipe once per seed (resumable), register its lowest-seed run tagged with the
    seed statistics, promote on the seed mean."""
    print(f"== {recipe} over seeds {seeds}", flush=True)
    quiet_libraries()  # our one line per seed run instead of Optuna's "[I ...] Trial 0 finished" lines
    arm = Arm(recipe, [f"experiment={recipe}", *overrides], seeds, recipe=recipe)
    result = run_arms([arm], storage)[0]
    print(report(result), flush=True)
    if result.missing:
        raise ZooError(f"recipe {recipe}: {len(result.missing)} seed run(s) failed; rerun to retry them")
    tracking_uri = arm.compose().logger.tracking_uri
    entry = register_run(result.first_run().run_id, tracking_uri, alias="challenger",
                         extra_tags=stats_tags(result.summaries, result.parent_run_id))
    print(f"{recipe}: seed {result.first_run().point['seed']} run -> {entry.name} v{entry.version}", flush=True)
    print(promote(entry.name, entry.version, tracking_uri), flush=True)
    return entry


def explain_champions(tracking_uri: str, limit: int = 500, n_steps: int = 50,
                      folder: Path = Path("explain")) -> list[str]:
    """`zoo-explain report=true` on every registered model's `champion` (seed ensembles cannot be
    explained and are named as skipped): its explanation logged on its run, written under
    `<folder>/<run id>/`. Returns the champions that failed."""
    import mlflow

    from zoo.explain.concepts import builtin_names, find_concept
    from zoo.explain.run import explain
    from zoo.explain.source import SeedEnsemble, load_subject

    failed = []
    for model in mlflow.MlflowClient(tracking_uri).search_registered_models():
        if "champion" not in model.aliases or model.tags.get("format") == "onnx":  # an export is its source
            continue
        uri = f"models:/{model.name}@champion"
        print(f"== explain {uri}", flush=True)
        try:
            subject = load_subject(uri, tracking_uri)
            print(explain(subject, folder / subject.run_id, split="test", limit=limit, gates=None, cells=True,
                          attributions=None, concepts=[find_concept(n) for n in builtin_names()], rows=32,
                          length=512, n_steps=n_steps, report=True), flush=True)
        except SeedEnsemble as err:
            print(f"note: {err}", file=sys.stderr, flush=True)
        except ZooError as err:
            print(f"error: {uri}: {err}", file=sys.stderr, flush=True)
            failed.append(uri)
    return failed


def write_leaderboard(tracking_uri: str, root: Path = PROJECT_ROOT) -> list[Row]:
    """`ZOO.md`, `docs/zoo.png` and `docs/zoo.json` under `root`, from the newest version of each
    recipe in the registry, and the earlier rows of `docs/zoo.json` for recipes it does not hold."""
    rows_file = root / "docs" / "zoo.json"
    table = merge(rows(tracking_uri, recipes()), load_rows(rows_file), recipes())
    (root / "ZOO.md").write_text(markdown(table))
    plot(table, root / "docs" / "zoo.png")
    save_rows(table, rows_file)
    return table


@click.command("zoo-zoo", cls=ZooCommand)
@click.option("--only", metavar="RECIPE,...", help="Comma-separated recipes from conf/experiment (default: all).")
@click.option("--train", type=Switch(), default="true", help="false: only rewrite the leaderboard (ZOO.md).")
@click.option("--seeds", metavar="N|[S,...]", help="Benchmark each recipe over seeds 0..N-1 or the listed seeds.")
@click.option("--storage", metavar="URL", help=OPTIONS["storage"])
@click.option("--explain", type=Switch(), default="false",
              help="Then explain every registered champion (zoo-explain report=true; logged on its run).")
def main(only: str | None, train: bool, seeds: str | None, storage: str | None, explain: bool) -> int:
    """Train, register and rank every recipe; write ZOO.md and docs/zoo.png.

    \b
    zoo-zoo seeds=3                 # every recipe over seeds 0-2
    zoo-zoo only=sst2_lstm,trec_lstm
    zoo-zoo train=false             # only rewrite the leaderboard
    zoo-zoo only=trec_lstm explain=true   # and explain every champion (zoo-explain report=true)
    """
    chosen = only.split(",") if only else recipes()
    unknown = sorted(set(chosen) - set(recipes()))
    if unknown:
        raise ZooError(f"unknown recipe(s) {unknown}; recipes: {', '.join(recipes())}")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    study_storage = open_storage(storage_url(storage)) if seed_list and train else None
    failed: list[str] = []
    for recipe in chosen if train else []:
        try:
            if seed_list is None:
                train_recipe(recipe)
            else:
                benchmark_recipe(recipe, seed_list, study_storage)
        except Exception as err:  # noqa: BLE001 - one broken recipe must not cost the others
            if not isinstance(err, ZooError):
                traceback.print_exc()
            print(f"error: recipe {recipe} failed: {err}", file=sys.stderr, flush=True)
            failed.append(recipe)
    print(markdown(write_leaderboard(default_tracking_uri())))
    if explain:
        failed += explain_champions(default_tracking_uri())
    if failed:
        raise ZooError(f"{failed} failed (see above); the leaderboard shows the others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
