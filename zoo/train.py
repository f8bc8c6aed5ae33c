"""`zoo-train [overrides]` (or `python -m zoo.train`; `make train`): train one recipe and track it
in MLflow. A Hydra app: `--help` lists the config groups, `--cfg job` prints the config,
`--shell-completion` installs tab completion."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from zoo.cli import friendly_errors
from zoo.paths import CONF_DIR
from zoo.training.pipeline import run_training
from zoo.training.summary import format_summary


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@friendly_errors
def main(cfg: DictConfig) -> float | None:
    with open_dict(cfg):  # one folder for Hydra's logs and the run's checkpoints
        cfg.paths.output_dir = HydraConfig.get().runtime.output_dir
    result = run_training(cfg)
    print(format_summary(result))
    return result.best_value


if __name__ == "__main__":
    main()
