"""Check the MLflow store before any work: a dead server, an unwritable folder or a mistyped
store path fails in seconds with the fix, not after the data loads or minutes of retries."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from zoo.errors import ConfigError
from zoo.paths import ensure_folder
from zoo.secrets import mask

SERVER_TIMEOUT_S = 5.0
SERVER_PATIENCE_S = 60.0
FIX_URI = "set tracking_uri= / logger.tracking_uri= or MLFLOW_TRACKING_URI (unset it for the embedded mlflow.db)"


def is_server(tracking_uri: str) -> bool:
    """An http(s) tracking server (which also serves its own UI), not an embedded store."""
    return tracking_uri.startswith(("http://", "https://"))


def check_server(uri: str, timeout: float = SERVER_TIMEOUT_S, patience: float = SERVER_PATIENCE_S) -> None:
    """An http(s) tracking server must answer (any HTTP status will do). A refused connection or
    an unknown host fails at once; a server that is up but busy (one request worker serving
    another client's upload, a loaded CI machine) is asked again until `patience` seconds have
    passed: a timeout is slowness, not a dead server (CI failed a sweep trial on one)."""
    parts = urlsplit(uri)
    url = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl().rstrip("/")  # no user:password@
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=timeout):
                return
        except urllib.error.HTTPError:
            return  # it answered: reachable (auth and routes are MLflow's business)
        except (OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            slow = isinstance(reason, TimeoutError) or "timed out" in str(reason)  # socket.timeout is TimeoutError
            if not slow or time.monotonic() >= deadline:
                waited = f" within {patience:.0f} s" if slow else ""
                raise ConfigError(f"the MLflow tracking server {mask(uri)} does not answer{waited} ({reason}); "
                                  f"start it (make ui, or mlflow server) or {FIX_URI}") from None


def store_path(uri: str) -> Path | None:
    """The local file or folder behind an embedded store URI, None for a server or :memory:."""
    if uri.startswith("sqlite:"):
        database = uri.split(":///", 1)[1].split("?", 1)[0] if ":///" in uri else ""
        return Path(database) if database and database != ":memory:" else None
    if uri.startswith("file:"):
        return Path(urlsplit(uri).path)
    return Path(uri) if "://" not in uri and "/" in uri else None  # a folder path; not `databricks`


def check_store(uri: str, artifact_root: str | None = None, reading: bool = False) -> None:
    """Fail now on a store that cannot work. `reading` commands (predict, generate, promote,
    reproduce) never create a store: an embedded one must already exist."""
    if is_server(uri):
        check_server(uri)
        return
    path = store_path(uri)
    if path is None:
        return
    if reading:
        if not path.exists():
            raise ConfigError(f"no MLflow store at {path} (tracking_uri={mask(uri)}): check the path for a typo, "
                              f"{FIX_URI}, or create it by training (make train)")
        return
    ensure_folder(path.parent if uri.startswith("sqlite:") else path, "MLflow store folder", FIX_URI)
    if artifact_root:
        ensure_folder(Path(artifact_root), "MLflow artifact root",
                      "set logger.artifact_root= to a writable folder")
