"""`zoo-serve model=models:/sst2-sentiment@champion` (or `python -m zoo.serve`; `make serve`):
the REST server of a registered model. The model and its store are checked first, so an
unknown or missing model is one `error:` line, not `mlflow models serve`'s traceback."""

from __future__ import annotations

import os
import shutil
import sys

import click

from zoo.cli import MODEL_URI, ZooCommand
from zoo.errors import ZooError
from zoo.registry.loading import check_registered


@click.command("zoo-serve", cls=ZooCommand)
@click.option("--model", required=True, metavar=MODEL_URI, help="Registered model to serve.")
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=5001, help="Port to listen on.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(model: str, host: str, port: int, tracking_uri: str | None) -> int:
    """Serve a registered model over REST (mlflow models serve, local environment).

    \b
    zoo-serve model=models:/sst2-sentiment@champion port=5001
    """
    store = check_registered(model, tracking_uri)
    mlflow_bin = shutil.which("mlflow", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    if mlflow_bin is None:
        raise ZooError("the mlflow command is not installed beside this Python; run `make install`")
    os.environ["MLFLOW_TRACKING_URI"] = store
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    os.execv(mlflow_bin, [mlflow_bin, "models", "serve", "-m", model, "--env-manager", "local",
                          "-h", host, "-p", str(port)])


if __name__ == "__main__":
    sys.exit(main())
