"""`zoo-predict model=models:/sst2-sentiment@champion text="a gripping film"` (or `python -m zoo.predict`).

Texts come from `text=...`, or `file=<path>` (one text per line; `file=-` reads stdin).
Writes one JSON object per text: the text, its label, label name and class probabilities."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import click
import pandas as pd

from zoo.cli import MODEL_URI, ZooCommand
from zoo.errors import ZooError
from zoo.registry.loading import load_registered


class TextFile(click.File):
    """click.File that names a directory as such, with the fix."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value != "-" and os.path.isdir(value):
            self.fail(f"file={value} is a directory; give a file with one text per line "
                      f"(e.g. file={value.rstrip('/')}/texts.txt), or file=- for stdin", param, ctx)
        return super().convert(value, param, ctx)


def read_texts(text: str | None, file: TextIO | None) -> list[str]:
    if text is not None:
        return [text]
    if file is None:
        raise ZooError("give text=\"...\" or file=<path> (file=- reads stdin)")
    try:
        content = file.read()
    except UnicodeDecodeError as err:
        name = getattr(file, "name", "-")
        name = "stdin" if name in ("-", "<stdin>") else name
        raise ZooError(f"file={name} is not UTF-8 text (byte {err.start}: {err.object[err.start:err.start + 1]!r}); "
                       "give one text per line in UTF-8, e.g. convert it with iconv -f latin1 -t utf-8") from None
    return [line for line in content.splitlines() if line.strip()]


def predict_records(model, texts: list[str]) -> list[dict]:
    """What both `zoo.predict` and the served model return, as plain records."""
    frame = model.predict(pd.DataFrame({"text": texts}))
    return [{"text": t, **row} for t, row in zip(texts, frame.to_dict(orient="records"), strict=True)]


@click.command("zoo-predict", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to load.")
@click.option("--text", help="One text to classify.")
@click.option("--file", type=TextFile("r", encoding="utf-8"), help="A file with one text per line; - reads stdin.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, text: str | None, file: TextIO | None, tracking_uri: str | None) -> int:
    """Label texts with a registered classifier; one JSON line per text.

    \b
    zoo-predict model=models:/sst2-sentiment@champion text="a gripping film"
    zoo-predict --model models:/trec-classification@champion --file questions.txt
    """
    texts = read_texts(text, file)
    if not texts:
        raise ZooError("no text to predict: the input is empty")
    for record in predict_records(load_registered(model, tracking_uri), texts):
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
