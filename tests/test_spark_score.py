"""zoo-spark-score: a registered classifier scores a Spark DataFrame through
`mlflow.pyfunc.spark_udf` with the same predictions as zoo-predict (Spark in local mode; `make
test-slow` installs PySpark and finds a Java runtime first), and its mistakes are one line."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers.tool_errors import one_error_line

from zoo import predict, spark_score
from zoo.config import compose_config
from zoo.registry.versions import register_run
from zoo.training.pipeline import run_training

ROWS = 100_000


@pytest.fixture
def classifier(base_overrides, tracking_uri: str) -> str:
    run = run_training(compose_config([*base_overrides, "task=sentiment", "debug=smoke", "model.hidden_size=16",
                                       "model.embedding_dim=8", "seed=5"]))
    entry = register_run(run.run_id, tracking_uri, alias="spark")
    return f"models:/{entry.name}@spark"


@pytest.mark.slow  # Spark's JVM and 100,000 rows: make test-slow
@pytest.mark.parametrize("form", ["torch", "onnx"])
def test_spark_scores_100k_rows_as_zoo_predict_does(classifier: str, shared_data: Path, tracking_uri: str,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   form: str) -> None:
    """The registered model, or its ONNX export (zoo-export), on Spark's workers."""
    pytest.importorskip("pyspark", reason="PySpark is not installed: make spark (make test-slow runs it first)")
    if form == "onnx":
        from zoo.registry.export import export_model

        exported = export_model(classifier, tracking_uri)
        classifier = f"models:/{exported.name}@spark"
    sentences = pd.read_csv(shared_data / "sst2" / "train.tsv", sep="\t", quoting=3)["sentence"].str.strip().tolist()
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"{t}\n" for t in itertools.islice(itertools.cycle(sentences), ROWS)))
    expected = tmp_path / "expected.jsonl"
    assert predict.main([f"model={classifier}", f"file={texts}", f"output={expected}",
                         f"tracking_uri={tracking_uri}"]) == 0
    scored = tmp_path / "scored"
    assert spark_score.main([f"model={classifier}", f"input={texts}", f"output={scored}", "master=local[2]",
                             f"tracking_uri={tracking_uri}"]) == 0
    assert f"scored {ROWS:,} rows" in capsys.readouterr().out
    got = pd.read_parquet(scored)
    assert list(got.columns) == ["text", "label", "label_name", "probabilities"] and len(got) == ROWS
    want = [json.loads(line) for line in expected.read_text().splitlines()]

    spark_rows = sorted((r["text"], r["label"], r["label_name"], list(r["probabilities"]))
                        for r in got.to_dict(orient="records"))
    want_rows = sorted((r["text"], r["label"], r["label_name"], r["probabilities"]) for r in want)
    assert [r[:3] for r in spark_rows] == [r[:3] for r in want_rows]  # every text, the same label
    # probabilities to their 6 places: Spark's Arrow batches group other texts into a network
    # call than zoo-predict's blocks, which moves a float sum in its last bit
    assert max(abs(a - b) for s, w in zip(spark_rows, want_rows, strict=True)
               for a, b in zip(s[3], w[3], strict=True)) <= 2e-6


def test_spark_scoring_mistakes_are_one_line(classifier: str, tracking_uri: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("a gripping film\n")
    args = [f"model={classifier}", f"tracking_uri={tracking_uri}"]
    assert "input=nowhere.parquet does not exist" in one_error_line(
        spark_score.main, [*args, "input=nowhere.parquet", f"output={tmp_path}/out"], capsys)
    assert f"output={tmp_path} exists" in one_error_line(
        spark_score.main, [*args, f"input={texts}", f"output={tmp_path}"], capsys)
    assert "invalid env_manager= value" in one_error_line(
        spark_score.main, [*args, f"input={texts}", f"output={tmp_path}/o", "env_manager=docker"], capsys)
    assert "no registered model 'nothing'" in one_error_line(
        spark_score.main, ["model=models:/nothing@champion", f"tracking_uri={tracking_uri}", f"input={texts}",
                           f"output={tmp_path}/o"], capsys)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # PySpark not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    err = one_error_line(spark_score.main, [*args, f"input={texts}", f"output={tmp_path}/o"], capsys)
    assert "Spark scoring needs PySpark: pip install 'lstm-zoo[spark]' (or make spark)" in err


@pytest.mark.parametrize(("path", "fmt"), [("t.parquet", "parquet"), ("t.csv", "csv"), ("t.txt", "text"),
                                           ("t.jsonl", "json"), ("hdfs:///data/texts", "parquet")])
def test_the_input_format_comes_from_the_suffix(path: str, fmt: str) -> None:
    assert spark_score.guess_format(path) == fmt
