"""`zoo-explain model=<models:/NAME/VERSION | models:/NAME@ALIAS | run id>` (or `python -m
zoo.explain`; `make explain`): what a recurrent model learned, over its own data. Gate
saturation per unit, layer and gate (Karpathy et al. 2015) for every recurrent model; for a
character-level language model also the interpretable cells: for each concept, the unit that
tracks it (chosen on validation, scored on test against the untrained architecture) and what
holding it does to the loss. Printed as tables and written as `explain.md`, `saturation.png`
and a coloured-text page per cell; `report=true` logs them (metrics `explain/...`, files
under `explain/`) on the run that trained the model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.cli import MODEL_URI, Switch, ZooCommand
from zoo.explain.concepts import builtin_names, find_concept
from zoo.explain.source import SPLITS


@click.command("zoo-explain", cls=ZooCommand)
@click.option("--model", required=True, metavar=f"{MODEL_URI}|RUN_ID", help="Registered version or training run.")
@click.option("--split", type=click.Choice(SPLITS), default="test", help="The split gate saturation is counted on.")
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=500,
              help="Rows (texts, or language-model windows) of the split to count saturation on.")
@click.option("--cells", type=Switch(), default="true", help="Find the interpretable cells (language models).")
@click.option("--concepts", default=",".join(builtin_names()), show_default=True,
              help="Comma-separated concepts: built-in names or package.module:function.")
@click.option("--rows", type=click.IntRange(min=2, max=1024), default=32, help="Stretches of text per split for cells.")
@click.option("--length", type=click.IntRange(min=16, max=4096), default=512, help="Characters per stretch.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the files (default explain/<run id>).")
@click.option("--report", type=Switch(), default="false", help="Log the figures and files on the model's run.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, split: str, limit: int, cells: bool, concepts: str, rows: int, length: int, out: str | None,
         report: bool, tracking_uri: str | None) -> int:
    """Explain what MODEL learned.

    \b
    zoo-explain model=models:/tinyshakespeare-generation@champion
    zoo-explain model=models:/sst2-sentiment/1 split=validation limit=200 report=true
    """
    chosen = [find_concept(name.strip()) for name in concepts.split(",") if name.strip()]
    from zoo.explain.cells_report import cells_report  # after the options are checked: a bad one answers at once
    from zoo.explain.report import check_recurrent, log_on_run, saturation_report
    from zoo.explain.source import load_subject

    subject = load_subject(model, tracking_uri)
    check_recurrent(subject)
    saturation = saturation_report(subject, split, limit)
    found = cells_report(subject, chosen, rows, length) if cells and subject.task == "language_model" else None
    folder = Path(out or f"explain/{subject.run_id}")
    files = saturation.write(folder, found.markdown() if found else "") + (found.write(folder) if found else [])
    if report:
        log_on_run(subject, {**saturation.metrics, **(found.metrics if found else {})}, files)
    print(saturation.table())
    if found:
        print("\n" + found.table())
    print(f"\n{saturation.rows} rows of {split}; written to {folder}/"
          + (f"; logged on run {subject.run_id} (explain/)" if report else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
