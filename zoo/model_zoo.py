"""`python -m zoo.model_zoo [only=sst2_lstm,trec_lstm] [seeds=3] [train=false]` (`make zoo SEEDS=3`).

Trains every recipe in `conf/experiment/` with its fixed seed (or, with seeds=N, once per
seed 0..N-1 as a benchmark), registers each recipe's run (the seed-0 run, tagged with the
seed statistics), sets `challenger` and promotes to `champion` on merit (the seed mean when
there is one), and writes the leaderboard `ZOO.md` and `docs/zoo.png` from the registry."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import optuna

from zoo.cli import friendly_errors, key_values
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT
from zoo.registry.leaderboard import Row, markdown, plot, rows
from zoo.registry.loading import default_tracking_uri
from zoo.registry.merit import stats_tags
from zoo.registry.versions import Registered, promote, register_run
from zoo.sweeps.benchmark import parse_seeds, recipes, report
from zoo.sweeps.replicates import Arm, run_arms
from zoo.sweeps.study import open_storage, storage_url
from zoo.training.pipeline import run_training

OPTIONS = {"only": "comma-separated recipe names", "train": "true|false (false: only rewrite the leaderboard)",
           "seeds": "N (seeds 0..N-1) or [0,7,9]: benchmark each recipe over seeds",
           "storage": "Optuna storage for seed runs (default ZOO_OPTUNA_STORAGE or optuna.db)"}


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


def write_leaderboard(tracking_uri: str, root: Path = PROJECT_ROOT) -> list[Row]:
    """`ZOO.md` and `docs/zoo.png` under `root`, from the newest version of each recipe."""
    table = rows(tracking_uri, recipes())
    (root / "ZOO.md").write_text(markdown(table))
    plot(table, root / "docs" / "zoo.png")
    return table


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS)
    chosen = args["only"].split(",") if args.get("only") else recipes()
    unknown = sorted(set(chosen) - set(recipes()))
    if unknown:
        raise ZooError(f"unknown recipe(s) {unknown}; recipes: {', '.join(recipes())}")
    train = args.get("train", "true").lower()
    if train not in ("true", "false"):
        raise ZooError(f"train={args['train']!r}: use train=true (train, then rank) or train=false (only rank)")
    seeds = parse_seeds(args["seeds"]) if "seeds" in args else None
    storage = open_storage(storage_url(args.get("storage"))) if seeds and train == "true" else None
    failed: list[str] = []
    for recipe in chosen if train == "true" else []:
        try:
            if seeds is None:
                train_recipe(recipe)
            else:
                benchmark_recipe(recipe, seeds, storage)
        except Exception as err:  # noqa: BLE001 - one broken recipe must not cost the others
            if not isinstance(err, ZooError):
                traceback.print_exc()
            print(f"error: recipe {recipe} failed: {err}", file=sys.stderr, flush=True)
            failed.append(recipe)
    print(markdown(write_leaderboard(default_tracking_uri())))
    if failed:
        raise ZooError(f"recipe(s) {failed} failed (see above); the leaderboard shows the others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
