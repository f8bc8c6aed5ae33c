"""Where the project lives, so embedded stores default to files beside the repo; folders the
tools write checked before any work."""

from pathlib import Path

from zoo.errors import ConfigError

PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]
CONF_DIR: Path = PROJECT_ROOT / "conf"


def ensure_folder(path: Path, what: str, fix: str) -> None:
    """Create `path` (and its parents) now, so an unwritable one is reported before any work."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".zoo-write-check"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"cannot write the {what} {path}: {err.strerror or err}; {fix}") from None
