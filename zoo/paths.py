"""Where the project lives, so embedded stores default to files beside the repo."""

from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]
CONF_DIR: Path = PROJECT_ROOT / "conf"
