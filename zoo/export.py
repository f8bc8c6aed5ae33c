"""`zoo-export model=<models:/NAME/VERSION | models:/NAME@ALIAS> format=onnx [out=network.onnx]`
(or `python -m zoo.export`; `make export MODEL=...`).

Exports a registered classifier's network to ONNX, checks that ONNX Runtime gives the torch
network's logits (to 1e-4) on every length it will be sent, and registers the result as
`<name>-onnx`: the same text-in pyfunc, scored by ONNX Runtime (one text about 3x faster on
SST-2's LSTM). Cores whose forward is a Python loop over steps are refused in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.cli import MODEL_URI, ZooCommand
from zoo.registry.export import FORMATS, export_model
from zoo.registry.loading import reading_store


@click.command("zoo-export", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="The registered classifier version to export.")
@click.option("--format", "format_", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="The format exported.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the graph here (for another runtime).")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, format_: str, out: str | None, tracking_uri: str | None) -> int:
    """Export MODEL to ONNX and register it as <name>-onnx.

    \b
    zoo-export model=models:/sst2-sentiment@champion format=onnx
    zoo-serve model=models:/sst2-sentiment-onnx@champion
    """
    uri = reading_store(tracking_uri)
    exported = export_model(model, uri, Path(out) if out else None)
    print(exported.line(model) + (f"; graph written to {out}" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
