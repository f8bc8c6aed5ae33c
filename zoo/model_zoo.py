"""`python -m zoo.model_zoo [only=sst2_lstm,trec_lstm] [train=false]` (`make zoo`).

Trains every recipe in `conf/experiment/` with its fixed seed, registers each run
(`challenger`, promoted to `champion` on merit), and writes the leaderboard `ZOO.md` and
`docs/zoo.png` from what the registry holds."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from zoo.cli import friendly_errors, key_values
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.paths import CONF_DIR, PROJECT_ROOT
from zoo.tracking.leaderboard import Row, markdown, plot, rows
from zoo.tracking.loading import default_tracking_uri
from zoo.tracking.registry import Registered, promote, register_run
from zoo.training.pipeline import run_training

OPTIONS = {"only": "comma-separated recipe names", "train": "true|false (false: only rewrite the leaderboard)"}


def recipes() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def train_recipe(recipe: str, overrides: Sequence[str] = ()) -> Registered:
    """Train one recipe with its fixed seed, register it as `challenger`, promote on merit."""
    print(f"== {recipe}", flush=True)
    cfg = compose_config([f"experiment={recipe}", "callbacks.progress_bar.refresh_rate=0", *overrides])
    result = run_training(cfg, extra_tags={"zoo.recipe": recipe})
    entry = register_run(result.run_id, cfg.logger.tracking_uri, alias="challenger")
    print(f"{recipe}: {result.metrics} -> {entry.name} v{entry.version}", flush=True)
    print(promote(entry.name, entry.version, cfg.logger.tracking_uri), flush=True)
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
    failed: list[str] = []
    for recipe in chosen if train == "true" else []:
        try:
            train_recipe(recipe)
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
