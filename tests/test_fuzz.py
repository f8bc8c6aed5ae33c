"""Property-based fuzzing (issue 22): inputs nobody listed, drawn by Hypothesis, for the dataset
YAMLs, the data files, every tool's command line and the REST scoring server. The property is
the same everywhere: it works, or it is refused as the user's mistake (a ZooError; exit 2 with
one `error:` line; HTTP 4xx), never a traceback, a 5xx or a file written outside the run's
folders. `make test` runs the short profile; `make fuzz` (ZOO_FUZZ=long) runs at least 10,000
cases and prints how many. A failure Hypothesis finds is kept in .hypothesis/ and replayed
first; once fixed, it becomes a plain test beside the code's other tests."""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import urllib.error
import urllib.request
from typing import Any
from unittest import mock

import click
import pytest
import yaml
from helpers.fuzzing import SCALARS, TEXT, VALUES, count, fuzz_settings
from helpers.tool_errors import CLICK_TOOLS
from hypothesis import given
from hypothesis import strategies as st

from zoo.errors import ZooError
from zoo.paths import CONF_DIR

DATASETS = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))



def _raw_dataset(name: str, data_dir: str) -> dict[str, Any]:
    text = (CONF_DIR / "data" / f"{name}.yaml").read_text().replace("${paths.data_dir}", data_dir)
    raw = yaml.safe_load(text)
    raw.pop("defaults", None)
    return raw


def _mutate(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """A copy of a YAML tree with keys dropped, values replaced by other types, unknown keys added."""
    if not isinstance(value, dict) or depth > 2:
        return draw(VALUES) if draw(st.integers(0, 5)) == 0 else value
    out = {}
    for key, item in value.items():
        action = draw(st.integers(0, 9))
        if action == 0:
            continue  # a missing key or block
        out[key] = draw(VALUES) if action == 1 else _mutate(draw, item, depth + 1)
    if draw(st.integers(0, 6)) == 0:
        out[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)  # an unknown key
    return out


@fuzz_settings(short=60, long=6000)
@given(st.sampled_from(DATASETS), st.data())
def test_dataset_yamls_parse_or_are_refused(name: str, data: st.DataObject) -> None:
    from zoo.data.spec import parse_dataset_spec

    count("dataset YAMLs")
    raw = _mutate(data.draw, _raw_dataset(name, "/nonexistent"))
    raw["local"] = raw.get("local") if not isinstance(raw.get("local"), dict) else {
        **raw["local"], "format": data.draw(st.sampled_from(["tsv", "csv", "label_prefix", "label_files", "text",
                                                             "hub", "parquet", ""]))}
    with contextlib.suppress(ZooError):
        parse_dataset_spec(raw)


ROW_PARTS = st.one_of(TEXT, st.sampled_from(["0", "1", "", "01", "1.0", "-1", "positive", "NaN", "\ufeff1",
                                             "x" * 5000]))
ENDINGS = st.sampled_from(["\n", "\r\n", "\r", ""])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])
FILE_FORMATS = {  # a dataset YAML of each local format, over files the test writes
    "tsv": {"content": "classification", "local": {"format": "tsv", "splits": {"train": "train.tsv"},
                                                   "column_names": ["label", "text"], "validation_fraction": 0.2,
                                                   "test_fraction": 0.2}},
    "csv": {"content": "classification", "local": {"format": "csv", "splits": {"train": "train.csv"},
                                                   "validation_fraction": 0.2, "test_fraction": 0.2}},
    "label_prefix": {"content": "classification", "local": {"format": "label_prefix",
                                                            "splits": {"train": "train.label"},
                                                            "validation_fraction": 0.2, "test_fraction": 0.2}},
    "text": {"content": "text", "local": {"format": "text", "splits": {"train": "input.txt"},
                                          "split_by_position": [0.8, 0.1, 0.1]}},
}


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(FILE_FORMATS)))
    if draw(st.integers(0, 4)) == 0:
        return kind, draw(st.binary(max_size=400))  # any bytes at all
    separator = {"tsv": "\t", "csv": ",", "label_prefix": ":", "text": " "}[kind]
    header = {"csv": ["label,text"]}.get(kind, [])
    rows = draw(st.lists(st.lists(ROW_PARTS, min_size=0, max_size=3).map(separator.join), max_size=30))
    ending = draw(ENDINGS)
    body = ending.join(header + rows) + draw(st.sampled_from(["", ending]))
    return kind, body.encode(draw(ENCODINGS), errors="replace")


@fuzz_settings(short=16, long=1000)
@given(data_files())
def test_data_files_load_or_are_refused(tmp_path_factory: pytest.TempPathFactory, case: tuple[str, bytes]) -> None:
    from zoo.data.classification import ClassificationDataModule
    from zoo.data.language_modeling import LanguageModelDataModule

    count("data files")
    kind, content = case
    folder = tmp_path_factory.mktemp("fuzzdata")
    base = FILE_FORMATS[kind]
    (folder / next(iter(base["local"]["splits"].values()))).write_bytes(content)
    before = set(folder.parent.iterdir())
    spec = {"name": f"fuzz_{kind}", **base, "local": {**base["local"], "dir": str(folder)},
            "tokenizer": {"level": "char" if kind == "text" else "word", "vocab_size": 100},
            "batch_size": 4, "eval_batch_size": 4, "max_length": 16, "bptt": 8}
    module_class = LanguageModelDataModule if kind == "text" else ClassificationDataModule
    with contextlib.suppress(ZooError):
        module_class(spec, cache_dir=str(folder / "cache")).setup()
    assert set(folder.parent.iterdir()) == before  # nothing written beside the data folder


def _argv(draw: st.DrawFn, keys: list[str]) -> list[str]:
    """A random `key=value` command line: the tool's own keys, unknown ones, bare words, flags."""
    token = st.one_of(
        st.tuples(st.sampled_from(keys), SCALARS).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.tuples(st.text(min_size=1, max_size=10), TEXT).map(lambda kv: f"{kv[0]}={kv[1]}"),
        TEXT, st.sampled_from(["--", "-x", "--nope", "help", "=", "==", "a=b=c"]),
    )
    return draw(st.lists(token, max_size=5))


@fuzz_settings(short=10, long=400)
@given(st.sampled_from(CLICK_TOOLS), st.data())
def test_command_lines_run_or_are_one_error_line(module: str, data: st.DataObject) -> None:
    """Every click tool's parsing and checks, with its work (training, serving) replaced by a
    stub: exit 0, or exit 2 with exactly one `error:` line."""
    count("command lines")
    command: click.Command = importlib.import_module(f"zoo.{module}").main
    keys = [p.opts[0].lstrip("-").replace("-", "_") for p in command.params if isinstance(p, click.Option)]
    argv = _argv(data.draw, keys)
    stderr, stdout = io.StringIO(), io.StringIO()
    with mock.patch.object(command, "callback", lambda **_: 0), contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(stdout):
        try:
            code = command.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    lines = stderr.getvalue().splitlines()
    assert code in (0, 2), (argv, code, lines)
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, lines)


@fuzz_settings(short=12, long=600)
@given(st.data())
def test_training_command_lines_compose_or_are_refused(data: st.DataObject) -> None:
    """`zoo-train`'s command line up to the point where data loads: the override check,
    composition and the config check; a refusal is a ZooError (one `error:` line)."""
    from zoo.config import check_overrides, compose_config, flatten
    from zoo.training.builders import check_config

    count("training command lines")
    keys = sorted(flatten(_training_keys()))
    groups = ["task", "model", "data", "trainer", "debug", "experiment", "callbacks"]
    argv = data.draw(st.lists(st.one_of(
        st.tuples(st.sampled_from(keys), SCALARS).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.tuples(st.sampled_from(groups), st.text(max_size=12)).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.tuples(st.sampled_from(["+", "~", "++"]), st.sampled_from(keys), SCALARS)
        .map(lambda t: f"{t[0]}{t[1]}={t[2]}"),
    ), max_size=4))
    try:
        check_overrides(argv)
        check_config(compose_config(argv))
    except ZooError:
        pass


@functools.cache
def _training_keys() -> dict:
    from omegaconf import OmegaConf

    from zoo.config import compose_config

    return OmegaConf.to_container(compose_config(["debug=smoke"]), resolve=False)


@pytest.fixture(scope="module")
def scoring_server(base_overrides, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A registered smoke classifier, served as `zoo-serve` serves it; its base URL."""
    from helpers.runs import smoke_run
    from helpers.servers import serving

    from zoo.registry.versions import register_run

    tmp = tmp_path_factory.mktemp("fuzzserve")
    run_id, tracking_uri = smoke_run("classification", base_overrides, tmp, "debug=smoke", "model.hidden_size=16",
                                     "model.embedding_dim=8")
    entry = register_run(run_id, tracking_uri)
    with serving(f"models:/{entry.name}/{entry.version}", tracking_uri) as url:
        yield url


JSON_BODIES = st.one_of(
    VALUES,
    st.fixed_dictionaries({"inputs": st.one_of(VALUES, st.fixed_dictionaries({"text": st.lists(TEXT, max_size=3)}))},
                          optional={"params": VALUES}),
    st.fixed_dictionaries({"dataframe_split": st.fixed_dictionaries(
        {"columns": st.lists(st.sampled_from(["text", "x", ""]), max_size=2), "data": VALUES})}),
    st.fixed_dictionaries({"dataframe_records": st.lists(st.dictionaries(st.sampled_from(["text", "y"]), SCALARS),
                                                         max_size=3)}),
    st.fixed_dictionaries({"instances": VALUES}),
)


@fuzz_settings(short=25, long=2200)
@given(st.sampled_from(["/invocations", "/invocations", "/invocations", "/ping", "/health", "/version", "/nope"]),
       st.sampled_from(["POST", "GET", "PUT"]),
       st.sampled_from(["application/json", "text/csv", "application/json; charset=latin-1", "text/plain",
                        "application/x-parquet", "application/json; format=pandas-split"]),
       st.one_of(JSON_BODIES.map(lambda b: json.dumps(b, allow_nan=True).encode()), st.binary(max_size=200),
                 TEXT.map(str.encode)))
def test_rest_payloads_are_answered_or_refused(scoring_server: str, route: str, method: str, content_type: str,
                                               body: bytes) -> None:
    count("REST payloads")
    request = urllib.request.Request(f"{scoring_server}{route}", data=body if method != "GET" else None,
                                     method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, answer = err.code, err.read()
    assert status < 500, (route, method, content_type, body[:200], status, answer[:500])
    assert b"Traceback (most recent call last)" not in answer, (body[:200], answer[:800])
    if status >= 400 and answer.startswith(b"{"):
        refusal = json.loads(answer)
        said = refusal.get("message", refusal.get("detail")) if isinstance(refusal, dict) else refusal
        assert "stack_trace" not in refusal and "\n" not in str(said).strip(), refusal
