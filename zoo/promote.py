"""`zoo-promote model=<name> version=<n|alias>` (or `python -m zoo.promote`; `make promote`): make a
version the champion if it beats the current champion on the test metric; says what it compared."""

from __future__ import annotations

import sys

import click

from zoo.cli import ZooCommand
from zoo.registry.gate import promote
from zoo.registry.loading import reading_store


@click.command("zoo-promote", cls=ZooCommand)
@click.option("--model", required=True, metavar="NAME", help="Registered model name, e.g. sst2-sentiment.")
@click.option("--version", required=True, metavar="N|ALIAS", help="Version number or alias to promote.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, version: str, tracking_uri: str | None) -> int:
    """Make VERSION of MODEL the champion if it beats the current champion on its test metric.

    \b
    zoo-promote model=sst2-sentiment version=3
    """
    print(promote(model, version, reading_store(tracking_uri)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
