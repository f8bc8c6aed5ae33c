"""`python -m zoo.model_zoo [only=sst2_lstm,trec_lstm] [train=false]` (`make zoo`).

Trains every recipe in `conf/experiment/` with its fixed seed, registers each run
(`challenger`, promoted to `champion` on merit), and writes the leaderboard `ZOO.md` and
`docs/zoo.png` from what the registry holds."""

from __future__ import annotations

import sys

from zoo.cli import friendly_errors, key_values
from zoo.config import compose_config
from zoo.errors import ZooError
from zoo.paths import CONF_DIR, PROJECT_ROOT
from zoo.tracking.leaderboard import markdown, plot, rows
from zoo.tracking.loading import default_tracking_uri
from zoo.tracking.registry import promote, register_run
from zoo.training.pipeline import run_training

OPTIONS = {"only": "comma-separated recipe names", "train": "true|false (false: only rewrite the leaderboard)"}


def recipes() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS)
    chosen = args["only"].split(",") if args.get("only") else recipes()
    unknown = sorted(set(chosen) - set(recipes()))
    if unknown:
        raise ZooError(f"unknown recipe(s) {unknown}; recipes: {', '.join(recipes())}")
    uri = default_tracking_uri()
    if args.get("train", "true").lower() == "true":
        for recipe in chosen:
            print(f"== {recipe}", flush=True)
            cfg = compose_config([f"experiment={recipe}", "callbacks.progress_bar.refresh_rate=0"])
            result = run_training(cfg, extra_tags={"zoo.recipe": recipe})
            entry = register_run(result.run_id, uri, alias="challenger")
            print(f"{recipe}: {result.metrics} -> {entry.name} v{entry.version}", flush=True)
            print(promote(entry.name, entry.version, uri), flush=True)
    table = rows(uri, recipes())
    (PROJECT_ROOT / "ZOO.md").write_text(markdown(table))
    plot(table, PROJECT_ROOT / "docs" / "zoo.png")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
