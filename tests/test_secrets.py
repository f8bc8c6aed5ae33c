"""No credential reaches MLflow or the screen: a sweep and a training run against a real
PostgreSQL-backed MLflow tracking server, with a password in the tracking URI, in the Optuna
storage URL and in MLFLOW_TRACKING_TOKEN; then every param, tag, artifact and printed line is
searched for them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import sqlalchemy
from helpers.servers import free_port, running, server_absent

from zoo.paths import PROJECT_ROOT
from zoo.secrets import mask

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
PASSWORD, TOKEN = "s3cr3t-pw", "tok-9f8e7d6c5b"  # any password passes the local server's trust auth
TINY = ["task=classification", "debug=smoke", "model.embedding_dim=8", "model.hidden_size=8",
        "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", "trainer.limit_test_batches=1"]


def test_mask_hides_url_passwords_query_secrets_and_token_variables(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    text = f"postgresql://root:{PASSWORD}@db:5432/x?sslmode=require&password={PASSWORD} bearer {TOKEN}"
    assert mask(text) == "postgresql://root:***@db:5432/x?sslmode=require&password=*** bearer ***"
    assert mask("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases (MLflow's and Optuna's), dropped afterwards; URLs with a password."""
    admin_url = os.environ.get("ZOO_TEST_POSTGRES_ADMIN", "postgresql+psycopg2://root@127.0.0.1:5432/postgres")
    try:
        admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except Exception as err:  # noqa: BLE001
        server_absent(f"PostgreSQL not reachable at {admin_url}: {str(err).splitlines()[0]}")
    names = [f"zoo_secret_{uuid.uuid4().hex[:8]}_{what}" for what in ("mlflow", "optuna")]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield tuple(f"postgresql+psycopg2://root:{PASSWORD}@127.0.0.1:5432/{name}" for name in names)
    with admin.connect() as conn:
        for name in names:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _everything_logged(client: mlflow.MlflowClient, folder: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every param, tag and artifact file of every run in the store."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    for run in client.search_runs(experiments):
        run_id = run.info.run_id
        yield from ((f"{run_id} param {k}", v) for k, v in run.data.params.items())
        yield from ((f"{run_id} tag {k}", v) for k, v in run.data.tags.items())
        local = Path(client.download_artifacts(run_id, "", str(folder / run_id)))
        for file in local.rglob("*"):
            if file.is_file():
                yield f"{run_id} artifact {file.relative_to(local)}", file.read_bytes().decode("latin-1")


@pytest.mark.slow  # make test-slow; `make test` keeps to its 10 minutes
def test_no_credential_reaches_mlflow_or_the_screen(base_overrides, databases, tmp_path: Path) -> None:
    mlflow_db, optuna_db = databases
    port = free_port()
    server = [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
              "--backend-store-uri", mlflow_db, "--artifacts-destination", str(tmp_path / "artifacts")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZOO_TORCH_THREADS": "1", "MLFLOW_TRACKING_TOKEN": TOKEN,
           "MLFLOW_TRACKING_URI": f"http://zoo:{PASSWORD}@127.0.0.1:{port}"}
    recipe = [*(o for o in base_overrides if not o.startswith("logger.")), *TINY]
    with running(server, f"http://127.0.0.1:{port}/health"):
        sweep = subprocess.run([sys.executable, "-m", "zoo.sweep", "sweep=classification_trec", "n_trials=1",
                                f"study_name=secret-{uuid.uuid4().hex[:6]}", f"storage={optuna_db}",
                                "recipe=[" + ",".join(recipe) + "]", "pruner=none", "confirm=false"],
                               cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert sweep.returncode == 0, sweep.stderr[-3000:]
        train = subprocess.run([sys.executable, "-m", "zoo.train", *recipe], cwd=PROJECT_ROOT, env=env,
                               capture_output=True, text=True, timeout=600)
        assert train.returncode == 0, train.stderr[-3000:]
        assert "tracking URI    http://zoo:***@127.0.0.1" in train.stdout
        client = mlflow.MlflowClient(f"http://127.0.0.1:{port}")
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            logged = list(_everything_logged(client, Path(folder)))
    assert len({where.split()[0] for where, _ in logged}) >= 3  # the sweep's parent, its trial, the training run
    assert any("config.yaml" in where for where, _ in logged) and any("sweep_spec.yaml" in w for w, _ in logged)
    for secret in (PASSWORD, TOKEN):
        assert secret not in sweep.stdout + sweep.stderr + train.stdout + train.stderr
        assert [where for where, text in logged if secret in text] == []
