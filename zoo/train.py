"""`zoo-train [overrides]` (or `python -m zoo.train`; `make train`): train one recipe and track it
in MLflow. A Hydra app: `--help` lists the config groups, `--cfg job` prints the config,
`--shell-completion` installs tab completion."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from zoo.cli import fail, friendly_errors
from zoo.config import check_overrides
from zoo.errors import ZooError
from zoo.paths import CONF_DIR, ensure_folder
from zoo.quiet import quiet


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@friendly_errors
def train(cfg: DictConfig) -> float | None:
    with open_dict(cfg):  # one folder for Hydra's logs and the run's checkpoints
        cfg.paths.output_dir = HydraConfig.get().runtime.output_dir
    quiet(bool(cfg.get("verbose", False)))
    # imported here, not at the top: a command line refused before training answers in a
    # second or two instead of waiting for Lightning and MLflow to import
    from zoo.training.pipeline import run_training
    from zoo.training.summary import format_summary

    result = run_training(cfg)
    print(format_summary(result))
    return result.best_value


def log_dir_given(argv: list[str]) -> str | None:
    """The log folder of this command line (`paths.log_dir=...`, else ZOO_LOG_DIR), if any."""
    given = [a.split("=", 1)[1] for a in argv if a.lstrip("+~").startswith("paths.log_dir=")]
    return given[-1] if given else os.environ.get("ZOO_LOG_DIR")


def main() -> float | None:
    """Hydra creates the run folder before `train` runs, and reports a bad override over several
    lines: an unwritable log folder and a command line that does not compose are reported here
    as one `error:` line each."""
    argv = sys.argv[1:]
    log_dir = log_dir_given(argv)
    try:
        if log_dir:
            ensure_folder(Path(log_dir), "log folder", "set ZOO_LOG_DIR or paths.log_dir= to a writable folder")
        if not any(a.startswith(("-", "hydra.", "hydra/")) for a in argv):  # Hydra's own flags: its own report
            check_overrides(argv)
    except ZooError as err:
        fail(str(err))
    return train()


if __name__ == "__main__":
    main()
