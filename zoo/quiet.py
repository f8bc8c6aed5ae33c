"""Library noise off by default, our progress lines on: every tool calls `quiet(verbose)` (click tools
through `zoo.cli.ZooCommand`, `zoo-train` from its config).

Off unless `verbose=true`: Lightning's "Seed set to 0", "GPU available / TPU available" and
"💡 Tip" lines (and its other rank-zero info: "Restoring states from the checkpoint", "`Trainer.fit`
stopped"), MLflow's INFO lines ("Creating initial MLflow database tables", "Validating input
example") and MLflow's artifact download bars. Warnings and errors always show. The model summary
is a trainer setting (`trainer.enable_model_summary: ${verbose}` in conf/trainer/default.yaml).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

PROGRESS = "zoo.progress"  # the logger of the per-epoch line (zoo.training.callbacks.EpochLine)
NOISY = (
    "lightning.fabric.utilities.seed",         # Seed set to 0
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",   # GPU/TPU available, 💡 Tip, Restoring states, fit stopped
    "mlflow",                                  # INFO: database tables created, input example validated
)
ARTIFACT_BARS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"  # read by MLflow at each download


def quiet(verbose: bool = False) -> None:
    """Silence the libraries' info chatter (`verbose=False`) or give it back (`verbose=True`)."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        if os.environ.get(ARTIFACT_BARS) == "false":
            del os.environ[ARTIFACT_BARS]
    else:
        os.environ.setdefault(ARTIFACT_BARS, "false")  # a user's explicit setting wins


def progress_to_console(prefix: str = "", stream: TextIO | None = None) -> None:
    """Show the `zoo.progress` lines on `stream` (stdout) in a process where nothing configured
    logging (click tools; Hydra's `zoo-train` already sends them to the console and its log file)."""
    logger = logging.getLogger(PROGRESS)
    logger.setLevel(logging.INFO)
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter(f"{prefix}%(message)s"))
    logger.addHandler(handler)
