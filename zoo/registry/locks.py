"""One registration of a run at a time: two `zoo-register` calls on the same run (two shells, a
sweep and a user) must give one version, not two. A file lock serialises the processes of this
host; `drop_duplicate` covers registrations from two hosts at once (the lowest version stays)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from filelock import FileLock, Timeout

from zoo.errors import ZooError

LOCK_DIR = Path(tempfile.gettempdir()) / "zoo-locks"
LOCK_TIMEOUT_S = 900  # a registration logs a model and scores an example: seconds, not minutes


@contextmanager
def registration_lock(tracking_uri: str, run_id: str) -> Iterator[None]:
    """Hold the lock for registering `run_id` in `tracking_uri` (waits for another holder)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{tracking_uri} {run_id}".encode()).hexdigest()[:24]
    path = LOCK_DIR / f"register-{digest}.lock"
    try:
        with FileLock(path, timeout=LOCK_TIMEOUT_S):
            yield
    except Timeout:
        raise ZooError(f"another registration of run {run_id} held {path} for {LOCK_TIMEOUT_S} s; if no "
                       "zoo-register is running, delete that file and retry") from None


def drop_duplicate(client: mlflow.MlflowClient, name: str, run_id: str, version: str) -> str:
    """The version of `name` that stands for `run_id`: the lowest one; `version`, if another
    process registered the run first, is deleted."""
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}' and run_id='{run_id}'"))
    if versions and versions[0] < int(version):
        client.delete_model_version(name, version)
        return str(versions[0])
    return version
