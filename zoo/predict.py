"""`python -m zoo.predict model=models:/sst2-sentiment@champion text="a gripping film"`

Texts come from `text=...`, or `file=<path>` (one text per line; `file=-` reads stdin).
Writes one JSON object per text: the text, its label, label name and class probabilities."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors, key_values
from zoo.errors import ZooError
from zoo.registry.loading import load_registered

OPTIONS = {"model": "models:/<name>@<alias> or models:/<name>/<version>", "text": "one text",
           "file": "a file with one text per line, or - for stdin", "tracking_uri": "MLflow store"}


def read_texts(args: dict[str, str]) -> list[str]:
    if "text" in args:
        return [args["text"]]
    if "file" not in args:
        raise ZooError("give text=\"...\" or file=<path> (file=- reads stdin)")
    if args["file"] == "-":
        lines = sys.stdin.read().splitlines()
    else:
        path = Path(args["file"])
        if not path.is_file():
            raise ZooError(f"file {path} does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def predict_records(model, texts: list[str]) -> list[dict]:
    """What both `zoo.predict` and the served model return, as plain records."""
    frame = model.predict(pd.DataFrame({"text": texts}))
    return [{"text": t, **row} for t, row in zip(texts, frame.to_dict(orient="records"), strict=True)]


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS, required=("model",))
    texts = read_texts(args)
    if not texts:
        raise ZooError("no text to predict: the input is empty")
    model = load_registered(args["model"], args.get("tracking_uri"))
    for record in predict_records(model, texts):
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
