"""`zoo-benchmark experiment=sst2_bilstm,trec_bilstm seeds=5 [folds=10] [workers=2] [overrides]`
(or `python -m zoo.benchmark`; `make benchmark`).

Trains every named recipe once per seed (seeds 0..N-1, or a list such as seeds=[0,7,9]) and,
with folds=K, once per cross-validation fold; any other key=value is a Hydra override for
every recipe (e.g. trainer.max_epochs=1). One MLflow parent run per recipe holds
`<metric>_mean`, `_std`, `_ci95_low`, `_ci95_high` and `n_seeds`; each run is a child. The
runs are queued in an Optuna study, so the same command resumes after a kill and workers on
other machines join with `role=worker` and the same ZOO_OPTUNA_STORAGE.
"""

from __future__ import annotations

import sys

import click

from zoo.cli import ZooCommand, as_key_values, overrides_argument, worker_options
from zoo.sweeps.benchmark.run import OPTIONS, parse_args, run_benchmark


@click.command("zoo-benchmark", cls=ZooCommand)
@click.option("--experiment", metavar="RECIPE,...", help=OPTIONS["experiment"])
@click.option("--seeds", default="5", metavar="N|[S,...]", help=OPTIONS["seeds"])
@click.option("--folds", type=int, metavar="K", help=OPTIONS["folds"])
@click.option("--workers", type=int, default=1, help=OPTIONS["workers"])
@click.option("--storage", metavar="URL", help=OPTIONS["storage"])
@worker_options
@overrides_argument
def main(overrides: tuple[str, ...], worker_index: int | None, **options: str | int | None) -> int:
    """Train recipes once per seed (and fold) and log mean, std and 95% CI per metric.

    KEY=VALUE arguments that are not options are Hydra overrides for every recipe.

    \b
    zoo-benchmark experiment=sst2_bilstm,trec_bilstm seeds=5
    zoo-benchmark experiment=trec_lstm seeds=[0,7,9] trainer.max_epochs=1
    zoo-benchmark task=sentiment data=mr folds=10 seeds=1
    """
    results = run_benchmark(parse_args(**options, overrides=overrides), as_key_values(options, overrides))
    if any(r.missing for r in results):
        print("error: some runs failed (see above); rerun the same command to retry only those", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
