"""`python -m zoo.register run_id=<id> | ensemble=<benchmark parent run id> [alias=challenger] [promote=true]`
(`make register RUN_ID=...` or `make register ENSEMBLE=...`).

Registers a finished training run as `<dataset>-<task>` (a pyfunc taking raw text), or the
seed models of a benchmark as one version averaging their class probabilities (scored on
the test split first), sets the alias, and with promote=true makes it champion if it beats
the current champion."""

from __future__ import annotations

import sys

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors, key_values
from zoo.errors import ZooError
from zoo.registry.ensemble import register_ensemble
from zoo.registry.loading import default_tracking_uri
from zoo.registry.versions import promote, register_run

OPTIONS = {"run_id": "MLflow run id", "ensemble": "benchmark parent run id (its seed runs become one model)",
           "alias": "alias, default challenger", "promote": "true|false, default true",
           "tracking_uri": "MLflow store, default as zoo.train"}


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    args = key_values(list(sys.argv[1:] if argv is None else argv), OPTIONS)
    if ("run_id" in args) == ("ensemble" in args):
        raise ZooError("give run_id=<mlflow run id> to register one run, or ensemble=<benchmark parent run id> for "
                       "a seed ensemble (one of the two)")
    uri = args.get("tracking_uri") or default_tracking_uri()
    alias = args.get("alias", "challenger")
    registered = (register_ensemble(args["ensemble"], uri, alias) if "ensemble" in args
                  else register_run(args["run_id"], uri, alias=alias))
    state = "registered" if registered.created else "already registered as"
    print(f"{state} {registered.name} v{registered.version} (models:/{registered.name}/{registered.version})")
    if args.get("promote", "true").lower() == "true":
        print(promote(registered.name, registered.version, uri))
    return 0


if __name__ == "__main__":
    sys.exit(main())
