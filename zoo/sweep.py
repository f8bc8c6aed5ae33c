"""`python -m zoo.sweep sweep=<name> [n_trials=N] [workers=N] [key=value ...]` (`make sweep`).

Runs the Optuna sweep described by `sweeps/<name>.yaml`; values on the command line
replace the spec's (`n_trials=12`, `pruner.name=none`, `sampler.seed=1`, `storage=...`).
Running the same command again resumes the study.
"""

from __future__ import annotations

import os
import sys

from omegaconf import OmegaConf

import zoo.config  # noqa: F401 - registers the ${zoo_root:} resolver
from zoo.cli import friendly_errors
from zoo.errors import ConfigError
from zoo.sweeps.runner import run_sweep
from zoo.sweeps.spec import available_sweeps, load_sweep_config, parse_sweep_spec


@friendly_errors
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bad = [a for a in argv if "=" not in a]
    if bad:
        raise ConfigError(f"arguments must be key=value, got {bad}; e.g. sweep=sentiment_sst2 n_trials=12")
    values = OmegaConf.to_container(OmegaConf.from_dotlist(argv))
    role = values.pop("role", "launcher")
    index = values.pop("worker_index", None)
    # a worker started by hand on another machine gets a seed offset of its own
    worker_index = int(index) if index is not None else (os.getpid() % 997 + 1 if role == "worker" else 0)
    name = values.get("sweep")
    if not name:
        raise ConfigError(f"name a sweep: sweep=<name>; available: {', '.join(available_sweeps())}")
    spec = parse_sweep_spec(name, load_sweep_config(name, values))
    launcher_argv = [a for a in argv if not a.startswith(("role=", "worker_index="))]
    outcome = run_sweep(spec, launcher_argv, role=role, worker_index=worker_index)
    return 1 if outcome.stopped_by_failures or outcome.worker_errors else 0


if __name__ == "__main__":
    sys.exit(main())
