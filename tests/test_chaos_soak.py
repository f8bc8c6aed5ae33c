"""The chaos soak (`make soak`) in a short setting: a 4-worker sweep on a private PostgreSQL
cluster and the authenticated team MLflow server survives workers killed mid-trial with SIGKILL
and SIGTERM, a PostgreSQL crash and an MLflow server restart, with nothing lost or doubled.
Slow (about 4 minutes): `make test-slow`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.servers import server_absent

from zoo.paths import PROJECT_ROOT

SOAK = PROJECT_ROOT / "scripts" / "chaos_soak.py"


@pytest.mark.slow
def test_a_sweep_survives_kills_and_server_restarts(shared_data: Path) -> None:
    sys.path.insert(0, str(SOAK.parent))
    try:
        from soak.postgres import PostgresMissing, bin_dir
        try:
            bin_dir()
        except PostgresMissing as err:
            server_absent(str(err))
    finally:
        sys.path.remove(str(SOAK.parent))
    env = {**os.environ, "ZOO_DATA_DIR": str(shared_data)}
    result = subprocess.run([sys.executable, str(SOAK), "kills=5", "n_trials=10", "interval=5", "outage=3"],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "FAILED" not in output.split("| check |")[1], output[-3000:]
    kills = next(line for line in output.splitlines() if line.startswith("| kills |"))
    assert int(kills.split("|")[2].split()[0]) >= 5
    assert "PostgreSQL down" in output and "MLflow server down" in output


def test_the_soak_refuses_unknown_arguments() -> None:
    result = subprocess.run([sys.executable, str(SOAK), "kils=3"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: unknown argument 'kils=3'; use key=value with key one of kills, n_trials, workers, seed, interval, "
        "outage, timeout, report"]
