"""Bad input (issue 10, items 9-14): each mistake is one `error:` line naming the value and the
fix, found before any data loads; what cannot train is refused; reading commands create nothing."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.tool_errors import one_error_line

from zoo import generate, predict, serve
from zoo.data.checks import check_headers, check_labels
from zoo.data.sources import load_splits
from zoo.data.spec import parse_dataset_spec
from zoo.errors import ConfigError, DataError, ZooError
from zoo.paths import PROJECT_ROOT
from zoo.registry.loading import reading_store
from zoo.training.builders import check_config, check_outputs
from zoo.training.callbacks import LOSS_TAG, LossProgressCheck

SMALL = ("debug=smoke", "model.hidden_size=16", "model.embedding_dim=8")


@pytest.mark.parametrize(("override", "message"), [
    ("task.module.optimizer.lr=-0.01", "task.module.optimizer.lr=-0.01 is invalid: a learning rate must be"),
    ("task.module.optimizer.lr=0", "task.module.optimizer.lr=0 is invalid"),
    ("task.module.optimizer.lr=nan", "task.module.optimizer.lr=nan is invalid"),
    ("data.batch_size=abc", "data.batch_size='abc' is invalid: it must be an integer >= 1, e.g. data.batch_size=64"),
    ("data.batch_size=2.5", "data.batch_size=2.5 is invalid"),
    ("seed=abc", "seed='abc' is invalid: it must be an integer in [0, 2**32), e.g. seed=0"),
    ("data.tokenizer.vocab_size=-1", "data.tokenizer.vocab_size=-1 is invalid: it must be an integer >= 3"),
    ("data.tokenizer.vocab_size=2", "data.tokenizer.vocab_size=2 is invalid: it must be an integer >= 3 (the 2 "
                                    "special tokens"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0 trains nothing"),
    ("trainer.max_steps=0", "trainer.max_steps=0 trains nothing"),
])
def test_what_cannot_train_is_refused_before_data_loads(compose, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(compose(*SMALL, override))


def test_a_refused_value_is_one_error_line_from_the_command_line(base_overrides) -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", *base_overrides, *SMALL, "data.batch_size=abc"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: data.batch_size='abc' is invalid" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file: no folder can be made below it, even by root."""
    path = tmp_path / "a-file"
    path.write_text("")
    return path


@pytest.mark.parametrize(("override", "message"), [
    ("logger.tracking_uri=http://bob:s3cret@127.0.0.1:1",
     "the MLflow tracking server http://bob:***@127.0.0.1:1 does not answer"),
    ("logger.tracking_uri=sqlite:///{blocker}/mlflow.db", "cannot write the MLflow store folder {blocker}"),
    ("logger.artifact_root={blocker}/artifacts", "cannot write the MLflow artifact root {blocker}/artifacts"),
    ("paths.log_dir={blocker}/logs", "cannot write the log folder {blocker}/logs"),
])
def test_where_a_run_writes_is_checked_in_seconds(compose, blocker: Path, override: str, message: str) -> None:
    cfg = compose(*SMALL, override.format(blocker=blocker))
    start = time.monotonic()
    with pytest.raises(ConfigError, match=re.escape(message.format(blocker=blocker))) as err:
        check_outputs(cfg)
    assert time.monotonic() - start < 10
    assert "s3cret" not in str(err.value)


def test_an_unwritable_log_folder_is_one_line_not_hydras_traceback(blocker: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "zoo.train", "debug=smoke"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ZOO_LOG_DIR": f"{blocker}/logs"})
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: cannot write the log folder {blocker}/logs: Not a directory; "
                                     "set ZOO_LOG_DIR or paths.log_dir= to a writable folder")


def test_reading_commands_never_create_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "mlfow.db"
    with pytest.raises(SystemExit) as exit_:
        predict.main(["model=models:/sst2-sentiment@champion", "text=hi", f"tracking_uri=sqlite:///{typo}"])
    assert exit_.value.code == 2
    assert f"error: no MLflow store at {typo}" in capsys.readouterr().err
    assert not typo.exists()


def test_a_dead_tracking_server_fails_reading_commands_fast() -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"http://127\.0\.0\.1:1 does not answer"):
        reading_store("http://127.0.0.1:1")
    assert time.monotonic() - start < 10


def _tool_error(tool, argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | bytes | None = None,
                monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    """The one `error:` line `tool` prints for `argv` (exit status 2)."""
    if stdin is not None and monkeypatch is not None:
        raw = stdin.encode() if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    return one_error_line(tool.main, argv, capsys)


def test_generate_refuses_a_temperature_that_is_no_number(capsys: pytest.CaptureFixture[str]) -> None:
    err = _tool_error(generate, ["model=models:/x@champion", "prompt=ROMEO:", "temperature=nan"], capsys)
    assert "temperature=nan is not a finite number; use a number >= 0, e.g. temperature=0.8" in err


def test_predict_names_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"ok\ncaf\xe9\n")
    err = _tool_error(predict, ["model=models:/x@champion", f"file={bad}"], capsys)
    assert f"file={bad} is not UTF-8 text (line 2, byte 4: b'\\xe9')" in err and "iconv" in err
    err = _tool_error(predict, ["model=models:/x@champion", "file=-"], capsys, b"\x7fELF\x02\xff\xfe", monkeypatch)
    assert "file=stdin is not UTF-8 text (line 1, byte 6" in err
    err = _tool_error(predict, ["model=models:/x@champion", f"file={tmp_path}"], capsys)
    assert f"file={tmp_path} is a directory; give a file with one text per line" in err


@pytest.mark.parametrize(("content", "message"), [
    (b"", "no text to predict: {file} is empty"),
    (b"\n  \n\t\r\n", "no text to predict: {file} has no non-blank line"),
])
def test_predict_refuses_input_with_no_text(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, content: bytes, message: str) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes(content)
    output = tmp_path / "out.jsonl"
    err = _tool_error(predict, ["model=models:/x@champion", f"file={path}", f"output={output}"], capsys)
    assert err == f"error: {message.format(file=path)}\n"
    err = _tool_error(predict, ["model=models:/x@champion", "file=-"], capsys, content, monkeypatch)
    assert err == f"error: {message.format(file='stdin')}\n"
    assert list(tmp_path.iterdir()) == [path]


class _Pipe(io.BytesIO):
    """stdin from a pipe: read once, so checked only as it streams."""

    def seekable(self) -> bool:
        return False


def test_predict_that_fails_midway_leaves_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.toy_classifier import Loaded, toy_bundle, toy_text_model

    from zoo import textio

    loaded = Loaded(toy_text_model(toy_bundle(tmp_path / "bundle.pt")))
    monkeypatch.setattr(predict, "load_registered", lambda uri, tracking_uri=None: loaded)
    monkeypatch.setattr(textio, "BLOCK_LINES", 2)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "labels.jsonl"
    stdin = io.TextIOWrapper(_Pipe(b"w1 w2\nw3\nw4 w5\nw6\ncaf\xe9\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    err = one_error_line(predict.main, ["model=models:/toy/1", "file=-", f"output={output}"], capsys)
    assert "file=stdin is not UTF-8 text (line 5, byte 4" in err
    assert loaded.calls == [2, 2] and list(out_dir.iterdir()) == []  # scored two blocks, kept nothing

    texts = tmp_path / "texts.txt"
    texts.write_text("w1\nw2\nw3\n")
    writes = []

    def full_disk(self, records) -> None:
        writes.append(len(records))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(textio.JsonLinesWriter, "write", full_disk)
    err = one_error_line(predict.main, ["model=models:/toy/1", f"file={texts}", f"output={output}"], capsys)
    assert err == f"error: cannot write output={output}: No space left on device; nothing was written\n"
    assert list(out_dir.iterdir()) == []
    for bad, message in ((tmp_path / "no" / "x.jsonl", "No such file or directory"), (out_dir, "is a directory")):
        err = one_error_line(predict.main, ["model=models:/toy/1", f"file={texts}", f"output={bad}"], capsys)
        assert f"output={bad}" in err and message in err


def test_serve_checks_the_model_first(mlflow_client, tracking_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    mlflow_client.search_experiments()  # the store exists
    err = _tool_error(serve, ["model=", f"tracking_uri={tracking_uri}"], capsys)
    assert "model='' must look like models:/<name>@<alias>" in err
    err = _tool_error(serve, ["model=models:/no-such-model@champion", f"tracking_uri={tracking_uri}"], capsys)
    assert "no registered model 'no-such-model'" in err
    err = _tool_error(serve, ["model=models:/no-such-model@champion", "threads=0"], capsys)
    assert "invalid threads= value: 0 is not in the range 1<=x<=256" in err


def test_a_loss_that_never_decreases_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    tags: dict[str, str] = {}
    logger = type("Logger", (), {"run_id": "r1", "experiment": type("E", (), {
        "set_tag": staticmethod(lambda run, key, value: tags.update({key: value}))})()})()
    trainer = type("Trainer", (), {"logger": logger})()
    check = LossProgressCheck()
    for loss in (0.69, 3e29, 8.7e29, 1e30):
        check.on_train_batch_end(trainer, None, {"loss": loss}, None, 0)
    check.on_fit_end(trainer, None)
    assert "WARNING: the training loss never decreased: first 0.69" in capsys.readouterr().err
    assert tags == {LOSS_TAG: "true"}
    learning = LossProgressCheck()
    for loss in (0.69, 0.7, 0.5):
        learning.on_train_batch_end(trainer, None, {"loss": loss}, None, 0)
    learning.on_fit_end(trainer, None)
    assert capsys.readouterr().err == ""


def _tsv_dataset(folder: Path, train: str, dev: str | None = None, **local: object) -> tuple:
    """A tiny local tsv classification dataset; returns (spec, cache_dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = "label\tsentence\n" + "".join(f"{i % 2}\tword{i} text\n" for i in range(8))
    (folder / "train.tsv").write_text(train)
    (folder / "dev.tsv").write_text(dev or good)
    (folder / "test.tsv").write_text(good)
    spec = parse_dataset_spec({"name": "tiny", "content": "classification", "local": {
        "format": "tsv", "dir": str(folder), "splits": {"train": "train.tsv", "validation": "dev.tsv",
                                                       "test": "test.tsv"},
        "text_column": "sentence", **local}})
    return spec, str(folder / "cache")


@pytest.mark.parametrize(("train", "dev", "message"), [
    ("label\tsentence\n0\tgood\n\tbad one\n1\tfine\n", None, "train.tsv line 3: the 'label' column is empty"),
    ("label\tsentence\n", None, "train.tsv (split 'train') has only a header row"),
    ("", None, "train.tsv (split 'train') is empty"),
    ("label\tsentence\n0\tgood\n1\tbad\n", "label\tcontent\n0\tok\n",
     "dev.tsv has header ['label', 'content'] but"),
])
def test_data_mistakes_name_the_file_and_row(tmp_path: Path, train: str, dev: str | None, message: str) -> None:
    spec, cache = _tsv_dataset(tmp_path / "tiny", train, dev)
    with pytest.raises(DataError, match=re.escape(message)):
        load_splits(spec, cache)


def test_the_data_checks_pass_good_files(tmp_path: Path) -> None:
    spec, cache = _tsv_dataset(tmp_path / "tiny", "label\tsentence\n0\tgood\n1\tbad\n")
    ds = load_splits(spec, cache)
    files = {split: str(tmp_path / "tiny" / f"{name}.tsv") for split, name in
             (("train", "train"), ("validation", "dev"), ("test", "test"))}
    check_headers(files, spec.source, "\t")
    check_labels(ds, files, "label")


def test_an_unwritable_cache_folder_is_named(compose, blocker: Path) -> None:
    from zoo.training.builders import build_datamodule

    datamodule = build_datamodule(compose(*SMALL, f"paths.cache_dir={blocker}/cache"))
    with pytest.raises(ZooError, match=re.escape(f"cannot write the datasets cache folder {blocker}/cache/datasets")):
        datamodule.setup()
