"""Data: the three real datasets, each local format, tokenizers, caching, batching."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.fabric.utilities.data import _set_sampler_epoch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from zoo.data import ClassificationDataModule, LanguageModelDataModule
from zoo.data.batching import BPTTWindows, LengthGroupedSampler
from zoo.errors import ConfigError, DataError
from zoo.paths import CONF_DIR


def _dataset_cfg(name: str, data_dir: Path, **changes: object) -> dict:
    """A conf/data YAML resolved against `data_dir`, with changes merged in."""
    cfg = OmegaConf.merge({"paths": {"data_dir": str(data_dir)}},
                          {"data": OmegaConf.load(CONF_DIR / "data" / f"{name}.yaml")},
                          {"data": changes})
    return OmegaConf.to_container(cfg.data, resolve=True)


def _classification(cfg: dict, cache: Path) -> ClassificationDataModule:
    dm = ClassificationDataModule(cfg, cache_dir=str(cache))
    dm.setup()
    return dm


def test_sst2_splits_and_labels(shared_data: Path, workdir: Path) -> None:
    dm = _classification(_dataset_cfg("sst2", shared_data), workdir / "cache")
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 67349, "validation": 872, "test": 1821}
    assert dm.classes == ["negative", "positive"]
    assert dm.sizes()["num_classes"] == 2 and dm.sizes()["pad_id"] == 0


@pytest.mark.parametrize(("level", "count"), [("coarse", 6), ("fine", 50)])
def test_trec_label_levels_and_carved_validation(shared_data: Path, workdir: Path, level: str, count: int) -> None:
    cfg = _dataset_cfg("trec", shared_data, label_level=level)
    dm = _classification(cfg, workdir / "cache")
    assert len(dm.classes) == count
    assert len(dm.splits["test"]) == 500  # TREC_10
    assert len(dm.splits["train"]) + len(dm.splits["validation"]) == 5452
    assert len(dm.splits["validation"]) == pytest.approx(545, abs=1)
    again = _classification(cfg, workdir / "cache")  # the carve is seeded: same split
    assert again.splits["validation"].input_ids == dm.splits["validation"].input_ids


def test_tinyshakespeare_split_by_position(shared_data: Path, workdir: Path) -> None:
    cfg = _dataset_cfg("tinyshakespeare", shared_data)
    dm = LanguageModelDataModule(cfg, cache_dir=str(workdir / "cache"))
    dm.setup()
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text()
    counts = {split: dm.tokens(split) for split in ("train", "validation", "test")}
    assert sum(counts.values()) == len(text) == 1_115_394
    assert counts["train"] == pytest.approx(0.9 * len(text), abs=1)
    decoded = "".join(dm.tokenizer.decode(dm.streams[s].tolist()) for s in ("train", "validation", "test"))
    assert decoded == text  # contiguous, in order, nothing shuffled or lost
    assert dm.vocab_size == 65 + 2  # 65 characters + [PAD], [UNK]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _tiny_sources(root: Path) -> dict[str, dict]:
    """One tiny dataset per local format, as a user would describe it in YAML."""
    rows = [("good film", "pos"), ("great fun", "pos"), ("bad plot", "neg"), ("dull film", "neg")]
    _write(root / "t.csv", "label,text\n" + "".join(f"{lab},{txt}\n" for txt, lab in rows))
    _write(root / "t.tsv", "text\tlabel\n" + "".join(f"{txt}\t{lab}\n" for txt, lab in rows))
    _write(root / "t.label", "".join(f"{lab.upper()}:x {txt}\n" for txt, lab in rows))
    _write(root / "t.pos", "good film\ngreat fun\n")
    _write(root / "t.neg", "bad plot\ndull film\n")
    _write(root / "t.txt", "abcdefghij" * 40)
    both = {"train": None, "validation": None, "test": None}
    split = lambda name: dict.fromkeys(both, name)  # noqa: E731
    base = {"content": "classification", "tokenizer": {"level": "word", "vocab_size": 100}, "batch_size": 2}
    return {
        "csv": {**base, "local": {"format": "csv", "dir": str(root), "splits": split("t.csv")}},
        "tsv": {**base, "local": {"format": "tsv", "dir": str(root), "splits": split("t.tsv")}},
        "label_prefix": {**base, "local": {"format": "label_prefix", "dir": str(root), "splits": split("t.label")}},
        "label_files": {**base, "local": {"format": "label_files", "dir": str(root),
                                          "splits": dict.fromkeys(both, {"pos": "t.pos", "neg": "t.neg"})}},
    }


@pytest.mark.parametrize("fmt", ["csv", "tsv", "label_prefix", "label_files"])
def test_each_classification_format_from_yaml_alone(tmp_path: Path, fmt: str) -> None:
    cfg = {"name": f"tiny_{fmt}", **_tiny_sources(tmp_path)[fmt]}
    dm = _classification(cfg, tmp_path / "cache")
    assert len(dm.splits["train"]) == 4
    assert [c.lower() for c in dm.classes] == ["neg", "pos"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["input_ids"].shape[0] == 2 and batch["lengths"].max() == 2


def test_plain_text_format_for_language_models(tmp_path: Path) -> None:
    _tiny_sources(tmp_path)
    cfg = {"name": "tiny_text", "content": "text", "batch_size": 2, "eval_batch_size": 2, "bptt": 5,
           "tokenizer": {"level": "char"},
           "local": {"format": "text", "dir": str(tmp_path), "splits": {"train": "t.txt"},
                     "split_by_position": [0.8, 0.1, 0.1]}}
    dm = LanguageModelDataModule(cfg, cache_dir=str(tmp_path / "cache"))
    dm.setup()
    assert dm.vocab_size == 10 + 2
    assert [dm.tokens(s) for s in ("train", "validation", "test")] == [320, 40, 40]


def test_tokenizer_sees_only_the_train_split(tmp_path: Path) -> None:
    _write(tmp_path / "train.csv", "label,text\npos,good film\nneg,bad film\n")
    _write(tmp_path / "test.csv", "label,text\npos,zyzzyva film\n")
    cfg = {"name": "leak", "content": "classification",
           "local": {"format": "csv", "dir": str(tmp_path),
                     "splits": {"train": "train.csv", "validation": "test.csv", "test": "test.csv"}}}
    dm = _classification(cfg, tmp_path / "cache")
    assert dm.tokenizer.token_to_id("zyzzyva") is None
    unk = dm.tokenizer.token_to_id("[UNK]")
    assert dm.splits["test"].input_ids[0][0] == unk


def test_second_setup_reuses_the_cached_encoding(tmp_path: Path, count_encoder_calls) -> None:
    cfg = {"name": "tiny_csv", **_tiny_sources(tmp_path)["csv"]}
    first = _classification(cfg, tmp_path / "cache")
    calls = count_encoder_calls()
    second = _classification(cfg, tmp_path / "cache")
    assert calls == []  # nothing was re-tokenized
    assert second.splits["train"].input_ids == first.splits["train"].input_ids
    changed = {**cfg, "max_length": 1}  # a different encoding is computed, not reused
    _classification(changed, tmp_path / "cache")
    assert calls


def test_missing_file_names_the_path_and_make_data(tmp_path: Path) -> None:
    cfg = _dataset_cfg("sst2", tmp_path / "nowhere")
    dm = ClassificationDataModule(cfg, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"nowhere/sst2/train.tsv[\s\S]*make data"):
        dm.check_files()


def test_label_unseen_in_training_is_reported(tmp_path: Path) -> None:
    _write(tmp_path / "train.csv", "label,text\npos,good\nneg,bad\n")
    _write(tmp_path / "test.csv", "label,text\nmeh,so so\npos,fine\n")
    cfg = {"name": "mismatch", "content": "classification",
           "local": {"format": "csv", "dir": str(tmp_path),
                     "splits": {"train": "train.csv", "validation": "train.csv", "test": "test.csv"}}}
    with pytest.raises(DataError, match=r"test split has label\(s\) \['meh'\].*\['neg', 'pos'\]"):
        _classification(cfg, tmp_path / "cache")


def test_malformed_files_are_reported(tmp_path: Path) -> None:
    _write(tmp_path / "bad.csv", "sentence,polarity\nhello,1\n")
    cfg = {"name": "bad", "content": "classification",
           "local": {"format": "csv", "dir": str(tmp_path),
                     "splits": dict.fromkeys(["train", "validation", "test"], "bad.csv")}}
    with pytest.raises(DataError, match=r"no column\(s\) \['text', 'label'\].*\['sentence', 'polarity'\]"):
        _classification(cfg, tmp_path / "cache")
    _write(tmp_path / "bad.label", "NUM:date When was it ?\nnolabelhere\n")
    cfg["local"] = {"format": "label_prefix", "dir": str(tmp_path), "splits": {"train": "bad.label"},
                    "validation_fraction": 0.5}
    with pytest.raises(DataError, match="malformed line 'nolabelhere'"):
        _classification(cfg, tmp_path / "cache")


def test_dataset_yaml_mistakes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format='xml'"):
        ClassificationDataModule({"name": "x", "content": "classification",
                                  "local": {"format": "xml", "splits": {"train": "a"}}}, str(tmp_path))
    with pytest.raises(ConfigError, match="data.source='hub'"):
        ClassificationDataModule({"name": "x", "content": "classification", "source": "hub",
                                  "local": {"format": "csv", "splits": {"train": "a"}}}, str(tmp_path))


@pytest.mark.parametrize(("change", "message"), [  # found by tests/test_fuzz.py (issue 22)
    ({"source": ["local"]}, r"data.source=\['local'\]"),
    ({"local": ["csv"]}, r"data.local=\['csv'\] must be a block of options"),
    ({"local": None}, "data.local.splits=None must map split names"),
    ({"local": {"format": "csv", "splits": {"train": "a"}, "label_names": ["neg", "pos"]}},
     "data.local.label_names=.* must be a block of options"),
    ({"local": {"format": "csv", "splits": "train.csv"}}, "data.local.splits='train.csv' must map split names"),
    ({"tokenizer": "word"}, "data.tokenizer='word' must be a block of options"),
])
def test_dataset_yaml_blocks_of_the_wrong_type_are_config_errors(tmp_path: Path, change: dict, message: str) -> None:
    cfg = {"name": "x", "content": "classification", "local": {"format": "csv", "splits": {"train": "a"}}, **change}
    with pytest.raises(ConfigError, match=message):
        ClassificationDataModule(cfg, str(tmp_path))


def test_too_few_rows_to_carve_a_validation_split_is_a_data_error(tmp_path: Path) -> None:
    _write(tmp_path / "one.csv", "label,text\n0,only one row\n")  # found by tests/test_fuzz.py
    cfg = {"name": "one", "content": "classification",
           "local": {"format": "csv", "dir": str(tmp_path), "splits": {"train": "one.csv", "test": "one.csv"},
                     "validation_fraction": 0.2}}
    with pytest.raises(DataError, match=r"cannot carve a validation split .* from 1 train row\(s\)"):
        _classification(cfg, tmp_path / "cache")


def test_bucket_sampler_covers_every_example_once_and_pads_little() -> None:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 60, (5000,), generator=generator).tolist()
    sampler = LengthGroupedSampler(lengths, batch_size=32, shuffle=True, seed=0)
    order = list(sampler)
    assert sorted(order) == list(range(5000))  # every example once
    assert order == list(LengthGroupedSampler(lengths, 32, True, seed=0))  # reproducible
    loader = DataLoader(range(5000), batch_size=32, sampler=sampler)
    epoch0 = [b.tolist() for b in loader]
    assert epoch0[-1] == order[-(5000 % 32):]  # the one short batch comes last
    _set_sampler_epoch(loader, 1)  # what Lightning calls at each epoch start
    assert list(sampler) != order  # reshuffled each epoch

    def padded(batches: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    random_batches = torch.randperm(5000, generator=generator).split(32)
    naive = padded([b.tolist() for b in random_batches])
    assert padded(epoch0) < 0.6 * naive
    assert padded(epoch0) < 1.1 * sum(lengths)


def test_bptt_windows_are_contiguous_and_shifted() -> None:
    ids = torch.arange(1000)
    windows = BPTTWindows(ids, batch_size=4, bptt=10)
    first, second = windows[0], windows[1]
    assert first["input_ids"].shape == (4, 10)
    torch.testing.assert_close(first["targets"], first["input_ids"] + 1)
    torch.testing.assert_close(second["input_ids"][:, 0], first["input_ids"][:, -1] + 1)
    total = sum(windows[i]["input_ids"].numel() for i in range(len(windows)))
    assert total == 4 * ((1000 - 1) // 4)


def test_unreachable_hub_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Couldn't reach 'stanfordnlp/sst2' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    cfg = _dataset_cfg("sst2", tmp_path, source="hub")
    with pytest.raises(DataError, match=r"could not load 'stanfordnlp/sst2'.*data.source=local"):
        _classification(cfg, tmp_path / "cache")
