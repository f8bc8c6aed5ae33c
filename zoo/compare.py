"""`zoo-compare spec=compare_trec [n_trials=N] [seeds=N] [workers=N] [only=cnn,nog] [key=value ...]`
(or `python -m zoo.compare`; `make compare`).

LSTM or another model? Runs the comparison in `sweeps/<spec>.yaml`: every architecture gets
the same Optuna trial budget over its own search space on one recipe, its winner is trained
on the same seeds, and the report (tests against the best LSTM, seed ensembles, costs, a
plot of accuracy against latency) goes to the MLflow parent run and `docs/lstm-or-not.md`.
Running the same command again resumes it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from omegaconf import OmegaConf

from zoo.cli import ZooCommand, as_key_values, overrides_argument, worker_options
from zoo.errors import ConfigError
from zoo.quiet import progress_to_console
from zoo.sweeps.compare.run import DOCS, STAGES, run_compare
from zoo.sweeps.compare.spec import available_comparisons, load_compare_config, parse_compare_spec


@click.command("zoo-compare", cls=ZooCommand)
@click.option("--spec", required=True, type=click.Choice(available_comparisons()),
              help="Comparison in sweeps/<name>.yaml.")
@click.option("--n-trials", type=int, help="Search trials per architecture (the spec's unless given).")
@click.option("--seeds", type=int, help="Seeds for each architecture's winner (the spec's unless given).")
@click.option("--workers", type=int, help="Worker processes on this machine (the spec's unless given).")
@click.option("--only", metavar="ARCH[,ARCH...]", help="Run these architectures of the spec only.")
@click.option("--storage", metavar="URL", help="Optuna storage (default ZOO_OPTUNA_STORAGE or optuna.db).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=DOCS,
              show_default="docs/lstm-or-not.md",
              help="Markdown page to write the comparison's section into (plots beside it).")
@click.option("--stage", type=click.Choice(STAGES), hidden=True)
@worker_options
@overrides_argument
def main(overrides: tuple[str, ...], role: str, worker_index: int | None, stage: str | None, out: Path,
         **options: str | int | None) -> int:
    """Compare architectures on one task: the same search budget each, the winners over seeds,
    Welch's test and a paired bootstrap against the best LSTM, and what each costs.

    KEY=VALUE arguments that are not options replace the spec's values (sampler.seed=1,
    pruner=none, debug=smoke adds a recipe override).

    \b
    zoo-compare spec=compare_trec workers=2
    zoo-compare spec=compare_sst2 only=nog,cnn n_trials=4 seeds=3
    """
    bad = [a for a in overrides if "=" not in a]
    if bad:
        raise ConfigError(f"arguments must be key=value, got {bad}; e.g. spec=compare_trec n_trials=8")
    argv = as_key_values({**options, "out": out}, overrides)
    values = OmegaConf.to_container(OmegaConf.from_dotlist(as_key_values(options, overrides)))
    name = str(values.pop("spec"))  # type: ignore[union-attr]
    if worker_index is None:
        worker_index = os.getpid() % 997 + 1 if role == "worker" else 0
    progress_to_console("  " if role == "launcher" else f"  [worker {worker_index}] ")
    spec = parse_compare_spec(name, load_compare_config(name, values))  # type: ignore[arg-type]
    outcome = run_compare(spec, argv, role=role, worker_index=worker_index, stage=stage, docs=out)
    return 1 if outcome.worker_errors else 0


if __name__ == "__main__":
    sys.exit(main())
