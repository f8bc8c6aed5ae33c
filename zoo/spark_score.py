"""`zoo-spark-score model=models:/sst2-sentiment@champion input=texts.parquet output=scored/`
(or `python -m zoo.spark_score`; under `spark-submit` on a cluster, see docs/registry-and-serving.md).

Scores a Spark DataFrame with a registered model through MLflow's own engine for it,
`mlflow.pyfunc.spark_udf`: each executor loads the model once and scores Arrow batches of
the text column; the output is the input's columns plus the pyfunc's (`label`, `label_name`,
`probabilities`), the types read from the model's signature. `env_manager=virtualenv` (or
`uv`, `conda`) has each executor build the model's own pinned requirements; `local` (the
default) uses the Python that runs Spark's workers, as on one machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zoo.cli import MODEL_URI, ZooCommand
from zoo.errors import ZooError
from zoo.registry.loading import check_registered

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

READERS = ("parquet", "csv", "json", "text")  # text: one text per line, the column is named `text`
ENV_MANAGERS = ("local", "virtualenv", "uv", "conda")
SPARK_HINT = ("pip install 'lstm-zoo[spark]' (or make spark) and a Java runtime 17+ "
              "(apt-get install openjdk-17-jre-headless)")


def spark_session(master: str | None, app: str = "zoo-spark-score") -> SparkSession:
    """The active session (spark-submit made one), else a new one; its Python workers run this
    interpreter unless PYSPARK_PYTHON says otherwise."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ZooError(f"Spark scoring needs PySpark: {SPARK_HINT}") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app).config("spark.ui.showConsoleProgress", "false")
    if master:
        builder = builder.master(master)
    try:
        return builder.getOrCreate()
    except Exception as err:  # noqa: BLE001 - no Java, a bad master URL: one line, not the JVM's trace
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ZooError(f"could not start Spark (master={master or 'from spark-submit'}): {first}. "
                       f"It needs {SPARK_HINT}") from None


def score_frame(spark: SparkSession, model_uri: str, frame: DataFrame, text_column: str = "text",
                env_manager: str = "local") -> DataFrame:
    """`frame` with the model's output columns appended; the model reads `text_column` as `text`."""
    import mlflow.pyfunc
    from pyspark.sql.functions import col, struct

    if text_column not in frame.columns:
        raise ZooError(f"the input has no column {text_column!r} (columns: {', '.join(frame.columns)}); "
                       "name the text column with text_column=")
    predict = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager=env_manager)
    scored = frame.withColumn("_zoo_prediction", predict(struct(col(text_column).alias("text"))))
    return scored.select(*[col(c) for c in frame.columns], "_zoo_prediction.*")


def read_input(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    reader = spark.read
    if fmt == "csv":
        return reader.option("header", "true").csv(path)
    if fmt == "text":
        return reader.text(path).withColumnRenamed("value", "text")
    return getattr(reader, fmt)(path)


def guess_format(path: str) -> str:
    suffix = Path(path.rstrip("/")).suffix.lstrip(".").lower()
    return {"txt": "text", "jsonl": "json"}.get(suffix, suffix if suffix in READERS else "parquet")


@click.command("zoo-spark-score", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to score with.")
@click.option("--input", "input_path", required=True, metavar="PATH",
              help="Texts as parquet, csv (with a header), json lines or text (one text per line); any Spark path.")
@click.option("--output", required=True, metavar="PATH", help="Where the scored rows go, as parquet.")
@click.option("--format", "fmt", type=click.Choice(READERS), help="The input's format (default: from its suffix).")
@click.option("--text-column", default="text", help="The input column that holds the texts.")
@click.option("--master", metavar="URL", help="Spark master (default: spark-submit's, or local[*]).")
@click.option("--env-manager", type=click.Choice(ENV_MANAGERS), default="local",
              help="How executors get the model's Python environment (virtualenv/uv/conda: its pinned requirements).")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, input_path: str, output: str, fmt: str | None, text_column: str, master: str | None,
         env_manager: str, tracking_uri: str | None) -> int:
    """Score texts on Spark with a registered model (mlflow.pyfunc.spark_udf).

    \b
    zoo-spark-score model=models:/sst2-sentiment@champion input=texts.parquet output=scored/
    spark-submit --master yarn zoo/spark_score.py model=... input=hdfs:///t output=hdfs:///s env_manager=virtualenv
    """
    fmt = fmt or guess_format(input_path)
    if "://" not in input_path and not os.path.exists(input_path):
        raise ZooError(f"input={input_path} does not exist")
    if "://" not in output and os.path.exists(output):
        raise ZooError(f"output={output} exists; give a new path (Spark writes a folder of parquet files)")
    os.environ["MLFLOW_TRACKING_URI"] = check_registered(model, tracking_uri)
    spark = spark_session(master or (None if _submitted() else "local[*]"))
    scored = score_frame(spark, model, read_input(spark, input_path, fmt), text_column, env_manager)
    scored.write.parquet(output)
    print(f"scored {spark.read.parquet(output).count():,} rows with {model} -> {output}")
    return 0


def _submitted() -> bool:
    """Whether spark-submit started this process (it hands it a gateway, and the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


if __name__ == "__main__":
    sys.exit(main())
