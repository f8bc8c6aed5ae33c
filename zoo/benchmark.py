"""`python -m zoo.benchmark experiment=sst2_bilstm,trec_bilstm seeds=5 [folds=10] [workers=2] [overrides]`
(`make benchmark`).

Trains every named recipe once per seed (seeds 0..N-1, or a list such as seeds=[0,7,9]) and,
with folds=K, once per cross-validation fold; any other key=value is a Hydra override for
every recipe (e.g. trainer.max_epochs=1). One MLflow parent run per recipe holds
`<metric>_mean`, `_std`, `_ci95_low`, `_ci95_high` and `n_seeds`; each run is a child. The
runs are queued in an Optuna study, so the same command resumes after a kill and workers on
other machines join with `role=worker` and the same ZOO_OPTUNA_STORAGE.
"""

from __future__ import annotations

import sys

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors
from zoo.sweeps.benchmark import OPTIONS, parse_args, run_benchmark


def usage() -> str:
    options = "\n".join(f"  {key:<11} {text}" for key, text in OPTIONS.items())
    return f"{__doc__}\noptions:\n{options}\n  <override>  any Hydra override, applied to every recipe"


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(usage())
        return 0
    results = run_benchmark(parse_args(argv), argv)
    if any(r.missing for r in results):
        print("error: some runs failed (see above); rerun the same command to retry only those", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
