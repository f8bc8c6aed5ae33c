"""`zoo-sweep sweep=<name> [n_trials=N] [workers=N] [key=value ...]` (or `python -m zoo.sweep`;
`make sweep`).

Runs the Optuna sweep described by `sweeps/<name>.yaml`; values on the command line
replace the spec's (`n_trials=12`, `pruner.name=none`, `sampler.seed=1`, `storage=...`).
Running the same command again resumes the study.
"""

from __future__ import annotations

import os
import sys

import click
from omegaconf import OmegaConf

from zoo.cli import Switch, ZooCommand, as_key_values, overrides_argument, worker_options
from zoo.errors import ConfigError
from zoo.quiet import progress_to_console
from zoo.sweeps.search.spec import available_sweeps, load_sweep_config, parse_sweep_spec


@click.command("zoo-sweep", cls=ZooCommand)
@click.option("--sweep", required=True, type=click.Choice(available_sweeps()), help="Spec in sweeps/<name>.yaml.")
@click.option("--n-trials", type=int, help="Trials in the study (the spec's unless given).")
@click.option("--workers", type=int, help="Worker processes on this machine (the spec's unless given).")
@click.option("--study-name", help="Optuna study to create or resume (the spec's unless given).")
@click.option("--storage", metavar="URL", help="Optuna storage (default ZOO_OPTUNA_STORAGE or optuna.db).")
@click.option("--verbose", type=Switch(), default="false",
              help="Show the libraries' info lines (Lightning, MLflow) that are hidden by default.")
@worker_options
@overrides_argument
def main(overrides: tuple[str, ...], role: str, worker_index: int | None, verbose: bool,
         **options: str | int | None) -> int:
    """Run, or resume, the Optuna sweep SWEEP.

    KEY=VALUE arguments that are not options replace the spec's values, dotted for nested ones
    (pruner.name=none, sampler=random, sampler.seed=1, max_failures=3).

    \b
    zoo-sweep sweep=sentiment_sst2 n_trials=12 pruner.name=none
    zoo-sweep sweep=classification_trec workers=2
    """
    bad = [a for a in overrides if "=" not in a]
    if bad:
        raise ConfigError(f"arguments must be key=value, got {bad}; e.g. sweep=sentiment_sst2 n_trials=12")
    launcher_argv = as_key_values(options, overrides)
    values = OmegaConf.to_container(OmegaConf.from_dotlist(launcher_argv))
    # a worker started by hand on another machine gets a seed offset of its own
    if worker_index is None:
        worker_index = os.getpid() % 997 + 1 if role == "worker" else 0
    progress_to_console("  " if role == "launcher" else f"  [worker {worker_index}] ")  # trials' epoch lines
    launcher_argv += ["verbose=true"] if verbose else []  # what spawned workers re-run
    spec = parse_sweep_spec(options["sweep"], load_sweep_config(options["sweep"], values))
    from zoo.sweeps.search.runner import run_sweep  # after the spec is checked: a bad one answers at once

    outcome = run_sweep(spec, launcher_argv, role=role, worker_index=worker_index)
    return 1 if outcome.stopped_by_failures or outcome.worker_errors else 0


if __name__ == "__main__":
    sys.exit(main())
