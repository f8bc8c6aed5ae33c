"""`zoo-register run_id=<id> | ensemble=<benchmark parent run id> [alias=challenger] [promote=true]
[alias=champion force=true]`
(or `python -m zoo.register`; `make register RUN_ID=...` or `make register ENSEMBLE=...`).

Registers a finished training run as `<dataset>-<task>` (a pyfunc taking raw text), or the
seed models of a benchmark as one version averaging their class probabilities (scored on
the test split first), sets the alias, and with promote=true makes it champion if it beats
the current champion. `champion` is moved by that gate only; `alias=champion force=true`
overrides it on purpose and says what it replaced."""

from __future__ import annotations

import sys

import click

from zoo.cli import Switch, ZooCommand
from zoo.errors import ZooError
from zoo.registry.ensemble import register_ensemble
from zoo.registry.gate import force_champion, promote
from zoo.registry.loading import reading_store
from zoo.registry.versions import CHAMPION, check_alias, register_run


@click.command("zoo-register", cls=ZooCommand)
@click.option("--run-id", metavar="RUN_ID", help="MLflow run id of a finished training run.")
@click.option("--ensemble", metavar="RUN_ID", help="Benchmark parent run id: its seed runs become one model.")
@click.option("--alias", default="challenger", help="Alias to set on the new version.")
@click.option("--promote", "promote_", type=Switch(), default="true",
              help="Make the version champion if it beats the current champion.")
@click.option("--force", type=Switch(), default="false",
              help="With alias=champion: make the version champion WITHOUT the promotion gate.")
@click.option("--tracking-uri", metavar="URI", help="MLflow store (default: as zoo-train).")
def main(run_id: str | None, ensemble: str | None, alias: str, promote_: bool, force: bool,
         tracking_uri: str | None) -> int:
    """Register a run, or a benchmark's seeds as one ensemble, in the MLflow Model Registry.

    \b
    zoo-register run_id=<mlflow run id>
    zoo-register ensemble=<benchmark parent run id> promote=false
    zoo-register run_id=<id> alias=champion force=true     # bypass the promotion gate, on purpose
    """
    if (run_id is None) == (ensemble is None):
        raise ZooError("give run_id=<mlflow run id> to register one run, or ensemble=<benchmark parent run id> for "
                       "a seed ensemble (one of the two)")
    if force and alias != CHAMPION:
        raise ZooError(f"force=true only goes with alias=champion (it bypasses the promotion gate); got alias={alias}")
    forced = alias == CHAMPION and force
    if not forced:
        check_alias(alias)  # before any work: alias=champion without force=true is refused
    uri = reading_store(tracking_uri)  # a server answers, an embedded store exists: never creates one
    new_alias = None if forced else alias
    registered = (register_ensemble(ensemble, uri, new_alias) if ensemble
                  else register_run(run_id, uri, alias=new_alias))
    state = "registered" if registered.created else "already registered as"
    print(f"{state} {registered.name} v{registered.version} (models:/{registered.name}/{registered.version})")
    if forced:
        print(force_champion(registered.name, registered.version, uri))
    elif promote_:
        print(promote(registered.name, registered.version, uri))
    return 0


if __name__ == "__main__":
    sys.exit(main())
