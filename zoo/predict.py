"""`zoo-predict model=models:/sst2-sentiment@champion text="a gripping film"` (or `python -m zoo.predict`).

Texts come from `text=...`, or `file=<path>` (one text per line; `file=-` reads stdin). Writes one
record per text (the text, its label, label name and class probabilities) as JSON lines or CSV to
stdout or `output=<path>`. A file is streamed: read, scored and written a block of lines at a time,
so memory stays flat however long it is."""

from __future__ import annotations

import itertools
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import click
import pandas as pd
from tqdm import tqdm

from zoo.cli import MODEL_URI, ZooCommand
from zoo.errors import ZooError
from zoo.registry.loading import generates, load_registered
from zoo.tasks.inference import GENERATION_PARAMS, TRUNCATION_LOG, generation_limit
from zoo.textio import WRITERS, output_file, source_name, text_blocks


class TextFile(click.File):
    """click.File that names a directory as such, with the fix."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value != "-" and os.path.isdir(value):
            self.fail(f"file={value} is a directory; give a file with one text per line "
                      f"(e.g. file={value.rstrip('/')}/texts.txt), or file=- for stdin", param, ctx)
        return super().convert(value, param, ctx)


def input_blocks(text: str | None, file: BinaryIO | None) -> tuple[Iterator[list[str]], int | None]:
    """The texts in blocks, and how many there are when that is known before scoring. A file
    that can be re-read is checked to its end first, so a bad line fails before the model loads
    and before anything is written; from a pipe only the first block is read before the model
    loads, and a bad line further on fails when it is reached (an `output=` file is then not made)."""
    if text is not None:
        return iter([[text]]), 1
    if file is None:
        raise ZooError("give text=\"...\" or file=<path> (file=- reads stdin)")
    name = source_name(file)
    total = None
    if file.seekable():
        total = sum(len(block) for block in text_blocks(file, name))
        file.seek(0)
    blocks = text_blocks(file, name)
    return itertools.chain([next(blocks)], blocks), total


def predict_records(model, texts: list[str]) -> list[dict]:
    """What both `zoo.predict` and the served model return, as plain records."""
    frame = model.predict(pd.DataFrame({"text": texts}))
    return [{"text": t, **row} for t, row in zip(texts, frame.to_dict(orient="records"), strict=True)]


def texts_per_call(model) -> int | None:
    """None (a whole block) for a classifier; a language model generates for at most as many
    prompts per call as its request cap allows at the default max_new_tokens."""
    if not generates(model):
        return None
    return max(1, generation_limit("request") // int(GENERATION_PARAMS["max_new_tokens"]))


class TruncationCount(logging.Handler):
    """Sums the texts `classify` reports cut to the model's max_length (zoo.tasks.inference)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.texts, self.max_length = 0, None

    def emit(self, record: logging.LogRecord) -> None:
        self.texts += getattr(record, "truncated", 0)
        self.max_length = getattr(record, "max_length", self.max_length)


@contextmanager
def counting_truncation() -> Iterator[TruncationCount]:
    """Count, instead of printing, what inference logs about truncation while the block runs."""
    logger, count = logging.getLogger(TRUNCATION_LOG), TruncationCount()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(count)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield count
    finally:
        logger.removeHandler(count)
        logger.setLevel(level)
        logger.propagate = propagate


def show_progress(output: str) -> bool:
    """A progress line only for a person watching: stderr is a terminal that the records are not written to."""
    return sys.stderr.isatty() and not (output == "-" and sys.stdout.isatty())


def check_paths(file: BinaryIO | None, output: str) -> None:
    name = getattr(file, "name", None)
    if output != "-" and isinstance(name, str) and os.path.exists(output) and os.path.samefile(name, output):
        raise ZooError(f"output={output} is the input file; write the predictions to another file")


@click.command("zoo-predict", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to load.")
@click.option("--text", help="One text to classify.")
@click.option("--file", type=TextFile("rb"), help="A UTF-8 file with one text per line; - reads stdin.")
@click.option("--output", default="-", metavar="PATH",
              help="Where the records go; - is stdout. A file appears only when every text is scored.")
@click.option("--format", "format_", type=click.Choice(list(WRITERS)), default="jsonl",
              help="jsonl: one JSON object per text; csv: a header, then text,label,label_name,probabilities.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, text: str | None, file: BinaryIO | None, output: str, format_: str,
         tracking_uri: str | None) -> int:
    """Label texts with a registered classifier; one record per text, in the input's order.

    \b
    zoo-predict model=models:/sst2-sentiment@champion text="a gripping film"
    zoo-predict model=models:/trec-classification@champion file=questions.txt output=labels.csv format=csv
    """
    check_paths(file, output)
    blocks, total = input_blocks(text, file)
    try:
        with output_file(output) as out, counting_truncation() as truncated:
            loaded = load_registered(model, tracking_uri)
            writer, per_call = WRITERS[format_](out), texts_per_call(loaded)
            with tqdm(total=total, unit=" texts", disable=not show_progress(output), leave=False) as bar:
                for block in blocks:
                    step = per_call or len(block)
                    for start in range(0, len(block), step):
                        writer.write(predict_records(loaded, block[start:start + step]))
                    bar.update(len(block))
    except BrokenPipeError:  # `zoo-predict ... | head`: the reader has stopped; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if truncated.texts:
        print(f"note: {truncated.texts} text(s) longer than the model's max_length={truncated.max_length} tokens "
              "were truncated to it", file=sys.stderr)
    return 0

if __name__ == "__main__":
    sys.exit(main())
