"""`zoo-explain model=<models:/NAME/VERSION | models:/NAME@ALIAS | run id>` (or `python -m
zoo.explain`; `make explain`): what a recurrent model's gates do over one of its own data
splits (gate saturation per unit, layer and gate; Karpathy et al. 2015), printed as a table
and written as `explain.md` and `saturation.png`; `report=true` logs them (metrics
`explain/saturation/...` and the files under `explain/`) on the run that trained the model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.cli import MODEL_URI, Switch, ZooCommand
from zoo.explain.source import SPLITS


@click.command("zoo-explain", cls=ZooCommand)
@click.option("--model", required=True, metavar=f"{MODEL_URI}|RUN_ID", help="Registered version or training run.")
@click.option("--split", type=click.Choice(SPLITS), default="test", help="Which of the model's data splits.")
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=500,
              help="Rows (texts, or language-model windows) of the split to read.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for explain.md and saturation.png "
              "(default explain/<run id>).")
@click.option("--report", type=Switch(), default="false", help="Log the figures and files on the model's run.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, split: str, limit: int, out: str | None, report: bool, tracking_uri: str | None) -> int:
    """Explain MODEL's gates over SPLIT.

    \b
    zoo-explain model=models:/tinyshakespeare-generation@champion
    zoo-explain model=models:/sst2-sentiment/1 split=validation limit=200 report=true
    """
    from zoo.explain.report import check_recurrent, saturation_report  # after the options are checked
    from zoo.explain.source import load_subject

    subject = load_subject(model, tracking_uri)
    check_recurrent(subject)
    result = saturation_report(subject, split, limit)
    folder = Path(out or f"explain/{subject.run_id}")
    if report:
        result.log(folder)
    else:
        result.write(folder)
    print(result.table())
    print(f"\n{result.rows} rows of {split}; written to {folder}/"
          + (f"; logged on run {subject.run_id} (explain/)" if report else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
