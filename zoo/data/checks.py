"""Checks on raw local files that name the file, the row and the fix: what `datasets` reports
for these mistakes ("column 'label' type is null", "DatasetGenerationCastError: An error
occurred") names none of them, or blames another split."""

from __future__ import annotations

from itertools import islice

import datasets

from zoo.data.spec import SourceSpec
from zoo.errors import DataError


def first_line(path: str, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace") as handle:
        return handle.readline().rstrip("\r\n")


def no_rows(path: str, split: str, what: str) -> DataError:
    return DataError(f"{path} (split {split!r}) {what}; it needs at least one example (one per line), "
                     f"or point splits.{split} at another file")


def check_not_empty(files: dict[str, str], encoding: str) -> None:
    """Each table has a row below its header (`datasets` fails on a header-only file naming none)."""
    for split, path in files.items():
        with open(path, encoding=encoding, errors="replace") as handle:
            lines = list(islice((line for line in handle if line.strip()), 2))
        if not lines:
            raise no_rows(path, split, "is empty")
        if len(lines) == 1:
            raise no_rows(path, split, "has only a header row")


def check_headers(files: dict[str, str], source: SourceSpec, delimiter: str) -> None:
    """Every table has rows and, without `column_names`, all start with the same header row."""
    check_not_empty(files, source.encoding)
    if source.column_names:
        return
    headers = {split: first_line(path, source.encoding).split(delimiter) for split, path in files.items()}
    train = headers.get("train")
    for split, header in headers.items():
        if header != train:
            raise DataError(
                f"{files[split]} has header {header} but {files['train']} has {train}: every split must name "
                f"the same columns; rename them, or set column_names: [...] (one name per column, in order) "
                f"in the dataset YAML's {source.format} source to ignore the headers"
            )


def check_rows(ds: datasets.DatasetDict, files: dict[str, str], header: bool) -> None:
    """Every split read from a file has at least one row."""
    for split, part in ds.items():
        if len(part) == 0:
            raise no_rows(files[split], split, "has only a header row" if header else "has no rows")


def check_labels(ds: datasets.DatasetDict, files: dict[str, str], column: str | None, first_row: int = 2) -> None:
    """No row may lack its label (`column`; None: the dataset has none): one empty label otherwise
    turns into a label named `None` (or floats), which the error about unseen labels then blames
    on another split. `first_row` is the file line of row 0 (2 below a header)."""
    for split, part in ds.items():
        if column is None or column not in part.column_names:
            continue
        for index, value in enumerate(part[column]):
            if value is None or value != value or str(value).strip() == "":  # value != value: NaN
                raise DataError(
                    f"{files[split]} line {index + first_row}: the {column!r} column is empty; give every row "
                    "a label, or delete that row"
                )
