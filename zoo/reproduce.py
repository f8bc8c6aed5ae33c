"""`zoo-reproduce model=models:/<name>/<version>` (or `python -m zoo.reproduce`; `make reproduce MODEL=...`).

Re-trains a registered model from its logged config and seed on the same data (refusing if
a data file changed) and reports the difference in its test metric."""

from __future__ import annotations

import sys

import click

from zoo.cli import MODEL_URI, ZooCommand
from zoo.registry.loading import reading_store
from zoo.registry.reproduction import reproduce


@click.command("zoo-reproduce", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to re-train.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, tracking_uri: str | None) -> int:
    """Re-train a registered model from its logged config and seed; report the metric difference.

    \b
    zoo-reproduce model=models:/sst2-sentiment/1
    """
    outcome = reproduce(model, reading_store(tracking_uri))
    print(f"{outcome.model}: {outcome.metric} registered {outcome.original:.4f}, reproduced "
          f"{outcome.reproduced:.4f}, difference {outcome.difference:+.4f} (new run {outcome.run_id}, "
          f"{outcome.threads} torch thread{'s' if outcome.threads > 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
