"""`zoo-serve model=models:/sst2-sentiment@champion` (or `python -m zoo.serve`; `make serve`):
the REST server of a registered model: MLflow's scoring server (the routes and payloads of
`mlflow models serve`) under uvicorn, with refused requests answered in one line
(`zoo.registry.serving`). The model and its store are checked first, so an unknown or missing
model is one `error:` line, not a traceback."""

from __future__ import annotations

import os
import sys

import click

from zoo.cli import MODEL_URI, Switch, ZooCommand
from zoo.registry.loading import check_registered

DEFAULT_THREADS = 1  # measured on 2 cores: see docs/registry-and-serving.md#load


@click.command("zoo-serve", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to serve.")
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=5001, help="Port to listen on.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
@click.option("--workers", type=click.IntRange(1, 64), default=1,
              help="Server processes, each with its own copy of the model.")
@click.option("--threads", type=click.IntRange(1, 256), default=DEFAULT_THREADS, show_default=True,
              help="Torch threads per worker (the network's matrix products; the event loop needs a core too).")
@click.option("--batching", type=Switch(), default="true",
              help="false: every request through MLflow's scoring app alone, as `mlflow models serve` does.")
def main(model: str, host: str, port: int, tracking_uri: str | None, workers: int, threads: int,
         batching: bool) -> int:
    """Serve a registered model over REST (MLflow's scoring server, local environment).

    \b
    zoo-serve model=models:/sst2-sentiment@champion port=5001
    """
    from zoo.registry.serving import BATCHING_ENV, MODEL_ENV, THREADS_ENV

    store = check_registered(model, tracking_uri)
    os.environ["MLFLOW_TRACKING_URI"] = store
    os.environ[MODEL_ENV] = model
    os.environ[THREADS_ENV] = str(threads)
    os.environ[BATCHING_ENV] = "1" if batching else "0"
    os.execv(sys.executable, [sys.executable, "-m", "uvicorn", "--factory", "zoo.registry.serving:create_app",
                              "--host", host, "--port", str(port), "--workers", str(workers)])


if __name__ == "__main__":
    sys.exit(main())
