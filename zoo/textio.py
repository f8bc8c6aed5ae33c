"""Texts in and records out for batch tools (`zoo-predict`): a file of one text per line read a
block at a time, records written as JSON lines or CSV as they come, and an output file that
appears whole or not at all. Why: a file of a million texts must not be held in memory, a bad
byte must be named by its line, and a failed run must not leave a plausible half of a result."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from zoo.errors import InputError, ZooError

BLOCK_LINES = 8192  # texts read, scored and written together: memory does not grow with the file


def source_name(stream: IO[Any]) -> str:
    """How messages name an input: its path, or `stdin`."""
    name = getattr(stream, "name", "-")
    return "stdin" if name in ("-", "<stdin>", 0) else str(name)


def text_blocks(stream: BinaryIO, name: str, size: int | None = None) -> Iterator[list[str]]:
    """The non-blank lines of `stream` (UTF-8, one text per line), `size` (BLOCK_LINES) at a time. Lines are
    decoded one by one, so a byte that is not UTF-8 is reported with its line number; an input
    with no text at all is an error once it is read to its end."""
    size = size or BLOCK_LINES
    block: list[str] = []
    lines = texts = 0
    for lines, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"file={name} is not UTF-8 text (line {lines}, byte {err.start + 1}: "
                             f"{raw[err.start:err.start + 1]!r}); give one text per line in UTF-8, "
                             "e.g. convert it with iconv -f latin1 -t utf-8") from None
        for text in line.splitlines():  # as text mode + splitlines read it: \r\n, \r and the like end a text
            if text.strip():
                block.append(text)
                if len(block) == size:
                    texts += size
                    yield block
                    block = []
    if block:
        yield block
    elif not texts:
        raise InputError(f"no text to predict: {name} is empty" if not lines else
                         f"no text to predict: {name} has no non-blank line")


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays (what a DataFrame may hold) as plain numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else value


class JsonLinesWriter:
    """One JSON object per record and line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.out.write("".join(json.dumps({k: _jsonable(v) for k, v in r.items()}, ensure_ascii=False) + "\n"
                               for r in records))


class CsvWriter:
    """A header from the first record's keys, then one row per record; a list or dict value
    (class probabilities) is written as its JSON text, so the file reads back unambiguously."""

    def __init__(self, out: TextIO) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.columns: list[str] | None = None

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            if self.columns is None:
                self.columns = list(record)
                self.writer.writerow(self.columns)
            self.writer.writerow([self._cell(_jsonable(record.get(c))) for c in self.columns])

    @staticmethod
    def _cell(value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


WRITERS = {"jsonl": JsonLinesWriter, "csv": CsvWriter}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def output_file(path: str) -> Iterator[TextIO]:
    """Stdout for `-`; else a temporary file beside `path`, renamed to it when the block ends
    without an error and removed when it does not, so a failed run leaves no output file."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.is_dir():
        raise ZooError(f"output={path} is a directory; give a file, e.g. output={path.rstrip('/')}/predictions.jsonl")
    try:
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=target.parent,
                                             prefix=f".{target.name}.", suffix=".part", delete=False)
    except OSError as err:
        raise ZooError(f"cannot write output={path}: {err.strerror or err}; give a path in a writable "
                       "folder that exists") from None
    done = False
    try:
        yield handle
        handle.close()  # a full disk may only show here
        os.chmod(handle.name, 0o666 & ~_umask())  # as a plain open() would have made it, not 0600
        os.replace(handle.name, target)
        done = True
    except OSError as err:
        raise ZooError(f"cannot write output={path}: {err.strerror or err}; nothing was written") from None
    finally:
        if not done:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
