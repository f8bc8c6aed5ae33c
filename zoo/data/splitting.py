"""Stratified carves of a labelled split: a held-out test set, or one fold of K.

scikit-learn picks the row indices (seeded by the dataset's `split_seed`, so the same seed
always gives the same rows) and `Dataset.select` takes them, so `datasets` fingerprints the
result and caches everything computed from it.
"""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from zoo.errors import DataError

Pair = tuple[datasets.Dataset, datasets.Dataset]


def _counts(labels: np.ndarray) -> dict[str, int]:
    return dict(sorted(Counter(labels.tolist()).items()))


def _labels(part: datasets.Dataset, what: str) -> np.ndarray:
    """The label column, after checking every class can be stratified at all."""
    labels = np.asarray(list(part["label"]))
    counts = _counts(labels)
    rare = [label for label, count in counts.items() if count < 2]
    if rare:
        raise DataError(
            f"cannot stratify {what} by label: class counts {counts}; class(es) {rare} have fewer "
            "than 2 rows: add examples or merge those labels (label_names)"
        )
    return labels


def _take(part: datasets.Dataset, keep: np.ndarray, held: np.ndarray) -> Pair:
    # sorted: rows keep their file order, and the fingerprint depends only on the row set
    return part.select(np.sort(keep)), part.select(np.sort(held))


def holdout(part: datasets.Dataset, fraction: float, seed: int, what: str) -> Pair:
    """(rest, held out): `fraction` of the rows, with the class proportions of `part`."""
    labels = _labels(part, what)
    try:
        keep, held = train_test_split(
            np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels
        )
    except ValueError as err:
        raise DataError(
            f"cannot stratify {what} by label: class counts {_counts(labels)} ({str(err).splitlines()[0]}); "
            "change the fraction or add examples"
        ) from None
    return _take(part, keep, held)


def kfold(part: datasets.Dataset, folds: int, fold: int, seed: int) -> Pair:
    """(rest, fold `fold`) of a shuffled, stratified `folds`-fold partition of `part`."""
    what = f"into data.cv_folds={folds} folds"
    labels = _labels(part, what)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    try:
        keep, held = list(splitter.split(np.zeros(len(labels)), labels))[fold]
    except ValueError as err:
        raise DataError(
            f"cannot stratify {what} by label: class counts {_counts(labels)} ({str(err).splitlines()[0]}); "
            "use fewer folds or add examples"
        ) from None
    return _take(part, keep, held)
