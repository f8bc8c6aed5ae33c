"""Carved splits: stratified test_fraction, K-fold CV, text_columns, and their config errors.

Tiny files are built in tmp_path: an MR-like pair of label files (latin-1, as MR ships)
from SST-2 train sentences, and a CSV with title/description columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.mr_data import mr_label_files, sst2_rows
from omegaconf import DictConfig

from zoo.data import ClassificationDataModule
from zoo.errors import ConfigError, DataError
from zoo.training.builders import build_datamodule

Compose = Callable[..., DictConfig]


@pytest.fixture
def mr(tmp_path: Path, shared_data: Path) -> Path:
    return mr_label_files(tmp_path / "mr", sst2_rows(shared_data, 400))


def _raw(compose: Compose, *overrides: str) -> dict[str, list[tuple[str, str]]]:
    """{split: [(text, label), ...]} as the data module carves it."""
    dm = build_datamodule(compose("data=mr", *overrides))
    raw = dm.load_raw()
    return {split: list(zip(part["text"], part["label"], strict=True)) for split, part in raw.items()}


def test_label_files_with_test_fraction_end_to_end(compose: Compose, mr: Path) -> None:
    dm = build_datamodule(compose("data=mr", f"data.local.dir={mr}"))
    assert isinstance(dm, ClassificationDataModule)
    dm.setup()
    # 400 rows: test = ceil(10%) = 40 first, then validation = ceil(10% of 360) = 36
    assert dm.split_sizes() == {"train_examples": 324, "validation_examples": 36, "test_examples": 40}
    assert dm.classes == ["negative", "positive"]
    assert next(iter(dm.train_dataloader()))["input_ids"].shape[0] == 64
    texts = [t for part in dm.load_raw().values() for t in part["text"]]
    assert sum(t.startswith("café ") for t in texts) == 1  # decoded as latin-1


def test_wrong_encoding_names_the_encoding_option(compose: Compose, mr: Path) -> None:
    dm = build_datamodule(compose("data=mr", f"data.local.dir={mr}", "data.local.encoding=utf-8"))
    with pytest.raises(DataError, match=r"UnicodeDecodeError.*set encoding in the dataset YAML"):
        dm.setup()


def test_test_split_is_stratified_and_rows_are_disjoint(compose: Compose, mr: Path) -> None:
    splits = _raw(compose, f"data.local.dir={mr}")
    everything = Counter(label for rows in splits.values() for _, label in rows)
    test = Counter(label for _, label in splits["test"])
    for label, count in everything.items():
        assert abs(test[label] - 0.1 * count) <= 1
    texts = [text for rows in splits.values() for text, _ in rows]
    assert len(texts) == len(set(texts)) == 400


def test_carving_is_deterministic_per_split_seed(compose: Compose, mr: Path, tmp_path: Path) -> None:
    first = _raw(compose, f"data.local.dir={mr}")
    fresh_cache = _raw(compose, f"data.local.dir={mr}", f"paths.cache_dir={tmp_path}/other")
    assert fresh_cache == first  # the seed, not the cache, fixes the rows
    other_seed = _raw(compose, f"data.local.dir={mr}", "data.split_seed=1")
    assert set(other_seed["test"]) != set(first["test"])


def test_cv_folds_are_disjoint_stratified_and_cover_train(compose: Compose, mr: Path) -> None:
    folds = 5
    tests = []
    for fold in range(folds):
        # mr.yaml's test_fraction stays set: with cv_folds the folds make the test split
        splits = _raw(compose, f"data.local.dir={mr}", f"data.cv_folds={folds}", f"data.cv_fold={fold}")
        assert sum(len(rows) for rows in splits.values()) == 400
        assert not set(splits["test"]) & (set(splits["train"]) | set(splits["validation"]))
        tests.append(set(splits["test"]))
    everything = set().union(*tests)
    assert len(everything) == sum(len(t) for t in tests) == 400  # disjoint, and all rows
    counts = Counter(label for _, label in everything)
    for held in tests:
        for label, count in Counter(label for _, label in held).items():
            assert abs(count - counts[label] / folds) <= 1


def test_second_setup_reuses_the_cached_carve(compose: Compose, mr: Path, count_encoder_calls) -> None:
    cfg = compose("data=mr", f"data.local.dir={mr}", "data.cv_folds=4")
    first = build_datamodule(cfg)
    first.setup()
    calls = count_encoder_calls()
    second = build_datamodule(cfg)
    second.setup()
    assert calls == []
    assert second.splits["test"].input_ids == first.splits["test"].input_ids


def _news(tmp_path: Path, text_columns: object) -> dict:
    (tmp_path / "news.csv").write_text(
        "title,description,label\n"
        "Stocks rally,Markets rose today.,business\n"
        ",Only a description,business\n"
        "Cup final,  Late goal wins it ,sport\n"
        "Derby,,sport\n"
    )
    return {"name": "news", "content": "classification",
            "local": {"format": "csv", "dir": str(tmp_path), "text_columns": text_columns,
                      "splits": dict.fromkeys(["train", "validation", "test"], "news.csv")}}


def test_text_columns_are_joined_with_one_space(tmp_path: Path) -> None:
    dm = ClassificationDataModule(_news(tmp_path, ["title", "description"]), str(tmp_path / "cache"))
    assert dm.load_raw()["train"]["text"] == [
        "Stocks rally Markets rose today.", "Only a description", "Cup final Late goal wins it", "Derby",
    ]
    dm.setup()
    assert dm.classes == ["business", "sport"]


def test_text_columns_naming_a_missing_column(tmp_path: Path) -> None:
    dm = ClassificationDataModule(_news(tmp_path, ["title", "summary"]), str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"no column\(s\) \['summary'\]; it has \['title', 'description', 'label'\]"):
        dm.setup()


@pytest.mark.parametrize("columns", [[], "title", [""]])
def test_text_columns_must_list_names(tmp_path: Path, columns: object) -> None:
    with pytest.raises(ConfigError, match=r"text_columns=.* must list the column names to join"):
        ClassificationDataModule(_news(tmp_path, columns), str(tmp_path / "cache"))


BAD_CONFIGS = [
    (["data=mr", "data.local.test_fraction=1.5"], r"data.local.test_fraction=1.5 must be a number in \(0, 1\)"),
    (["data=mr", "data.local.test_fraction=0"], r"data.local.test_fraction=0 must be a number in \(0, 1\)"),
    (["data=trec", "+data.local.test_fraction=0.1"],
     r"splits already names one \(TREC_10.label\); remove splits.test or set data.local.test_fraction=null"),
    (["data=sst2", "data.cv_folds=1"], r"data.cv_folds=1 must be an integer >= 2"),
    (["data=sst2", "data.cv_folds=2.5"], r"data.cv_folds=2.5 must be an integer >= 2"),
    (["data=sst2", "data.cv_folds=ten"], r"data.cv_folds='ten' must be an integer >= 2"),
    (["data=mr", "data.local.test_fraction=null", "data.cv_folds=5", "data.cv_fold=5"],
     r"data.cv_fold=5 must be an integer in 0..4"),
    (["data=mr", "data.local.test_fraction=null", "data.cv_folds=5", "data.cv_fold=-1"],
     r"data.cv_fold=-1 must be an integer in 0..4"),
    (["data=mr", "data.cv_fold=3"], r"data.cv_fold=3 needs data.cv_folds"),
    (["data=trec", "data.cv_folds=10"],
     r"names a test split \(TREC_10.label\); remove it \(~data.local.splits.test\) or set data.cv_folds=null"),
    (["data=tinyshakespeare", "+data.cv_folds=5"], r"need a classification dataset; tinyshakespeare is kind: text"),
    (["data=tinyshakespeare", "+data.local.test_fraction=0.1"], r"need a classification dataset"),
    (["data=mr", "+data.local.text_columns=[a,b]"], r"text_columns works with format csv, tsv or hub, not label_files"),
    (["data=sst2", "data.source=hub", "+data.hub.text_columns=[sentence,idx]"],
     r"sets both text_column and text_columns; keep text_columns and remove text_column"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS)
def test_bad_split_options_fail_before_loading(compose: Compose, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        build_datamodule(compose(*overrides, "data.local.dir=/nonexistent"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("sizes", "overrides", "message"),
    [({"negative": 1, "positive": 20}, [],
      r"class counts \{'negative': 1, 'positive': 20\}; class\(es\) \['negative'\] have fewer than 2 rows"),
     ({"negative": 2, "positive": 2}, [],
      r"test_fraction=0.1\) from train by label: class counts \{'negative': 2, 'positive': 2\} \(.*test_size"),
     ({"negative": 3, "positive": 3}, ["data.local.test_fraction=null", "data.cv_folds=5"],
      r"into data.cv_folds=5 folds by label: class counts \{'negative': 3, 'positive': 3\}.*use fewer folds")],
)
def test_too_few_rows_per_class_is_a_data_error(
    compose: Compose, tmp_path: Path, sizes: dict[str, int], overrides: list[str], message: str
) -> None:
    rows = [(f"{label} sentence {i}", label) for label, n in sizes.items() for i in range(n)]
    mr_label_files(tmp_path / "mr", rows)
    dm = build_datamodule(compose("data=mr", f"data.local.dir={tmp_path / 'mr'}", *overrides))
    with pytest.raises(DataError, match=message) as caught:
        dm.setup()
    assert "\n" not in str(caught.value)
