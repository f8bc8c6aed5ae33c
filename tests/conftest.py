"""Shared fixtures: the real benchmark data in ../shared/data, a throwaway MLflow store,
and `compose` for configs exactly as `python -m zoo.train` builds them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on this 2-core machine: one torch thread each (and in
    # every process they start), or four threads spin-wait for two cores
    os.environ["OMP_NUM_THREADS"] = "1"

import mlflow
import pytest
from omegaconf import DictConfig

from zoo.config import compose_config
from zoo.data.tokenization import BatchEncoder
from zoo.paths import PROJECT_ROOT

SHARED_DATA = Path(os.environ.get("ZOO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "sst2" / "train.tsv").is_file():
        pytest.skip(f"benchmark data not found in {SHARED_DATA} (set ZOO_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per test session: MLflow store, datasets cache, run outputs."""
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="session")
def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir}/mlflow.db"


@pytest.fixture(scope="session")
def base_overrides(shared_data: Path, workdir: Path, tracking_uri: str) -> tuple[str, ...]:
    """Shared by every test of the session, so immutable: a test adds its own with [*base, ...]."""
    return (
        f"paths.data_dir={shared_data}",
        f"paths.cache_dir={workdir}/cache",
        f"paths.log_dir={workdir}/logs",
        f"logger.tracking_uri={tracking_uri}",
        f"logger.artifact_root={workdir}/mlartifacts",
    )


@pytest.fixture
def compose(base_overrides: tuple[str, ...]) -> Callable[..., DictConfig]:
    """compose('task=generation', 'debug=smoke', ...) with the test paths and store."""

    def _compose(*overrides: str) -> DictConfig:
        return compose_config([*base_overrides, *overrides])

    return _compose


@pytest.fixture(scope="session")
def mlflow_client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri)


@pytest.fixture
def count_encoder_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[int]]:
    """`calls = count_encoder_calls()` starts counting tokenization batches: a cache hit makes none."""

    def start() -> list[int]:
        calls: list[int] = []
        original = BatchEncoder.__call__

        def counting(self: BatchEncoder, batch: dict) -> dict:
            calls.append(len(batch["text"]))
            return original(self, batch)

        monkeypatch.setattr(BatchEncoder, "__call__", counting)
        return calls

    return start


@pytest.fixture
def this_machine(shared_data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reproduction uses this machine's paths (ZOO_DATA_DIR etc.), not the logged ones."""
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    monkeypatch.setenv("ZOO_CACHE_DIR", str(workdir / "cache"))
    monkeypatch.setenv("ZOO_LOG_DIR", str(workdir / "reproduced"))


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:
    """How many fuzz cases ran (tests/test_fuzz.py), per target: `make fuzz` must show >= 10,000."""
    from helpers.fuzzing import CASES, PROFILE

    if CASES:
        per_target = ", ".join(f"{target} {n:,}" for target, n in sorted(CASES.items()))
        failed = len(terminalreporter.stats.get("failed", []))
        terminalreporter.write_line(f"fuzz ({PROFILE} profile): {sum(CASES.values()):,} cases ({per_target}); "
                                    f"{failed} failed test(s)")


# The longest test files, started first: `make test` hands whole files to its two workers in
# collection order, so a long file collected last (the team deployment, 3 minutes) would run
# alone at the end while the other worker idles.
LONG_FILES_FIRST = ("test_team_deployment.py", "test_sweep_run.py", "test_compare.py", "test_benchmark.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONG_FILES_FIRST.index(name) if name in LONG_FILES_FIRST else len(LONG_FILES_FIRST)

    items.sort(key=rank)  # stable: the order within each file, and of the other files, is kept
