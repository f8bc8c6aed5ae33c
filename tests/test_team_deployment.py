"""The team deployment of the README, for real: `scripts/services.sh` (what `make services` runs)
starts an MLflow tracking server on PostgreSQL with a shared artifact root and MLflow's
basic-auth app, and a 2-worker smoke sweep runs against it, logged in, with its Optuna study on
PostgreSQL too; the registered model then loads from the server (its bundle downloaded through
the server's artifact proxy, logged in) and predicts. An anonymous client and a user who may only read are refused.
Throwaway databases, dropped afterwards."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
import sqlalchemy
from helpers.browser import browser, page_text
from helpers.servers import free_port, server_absent
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client
from optuna.trial import TrialState

from zoo import promote
from zoo.config import compose_config
from zoo.paths import PROJECT_ROOT
from zoo.registry.loading import load_registered
from zoo.tracking.ui_view import experiment_page
from zoo.training.pipeline import run_training
from zoo.training.summary import format_summary

SCRIPT = PROJECT_ROOT / "scripts" / "services.sh"
# tiny trials: the sweep's recipe replaced by a smoke one (debug=smoke is appended by the CLI)
TINY = ["task=classification", "model.embedding_dim=8", "trainer.max_epochs=2", "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=1", "trainer.enable_model_summary=false",
        "callbacks.progress_bar.refresh_rate=0"]
SMOKE_RUN = ["debug=smoke", "model.hidden_size=16", "model.embedding_dim=8", "callbacks.progress_bar.refresh_rate=0"]


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """The local PostgreSQL server's URL (no database); the throwaway databases it gets are dropped."""
    url = os.environ.get("ZOO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
    try:
        engine = sqlalchemy.create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT",
                                          connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
    except Exception as err:  # noqa: BLE001
        server_absent(f"PostgreSQL not reachable at {url}: {str(err).splitlines()[0]}")
    yield url
    engine.dispose()


@pytest.fixture(scope="module")
def services(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`scripts/services.sh start` on a free port with throwaway databases; stopped and dropped after."""
    tmp_path = tmp_path_factory.mktemp("services")
    suffix = uuid.uuid4().hex[:10]
    names = {"ZOO_MLFLOW_DB": f"zoo_mlflow_{suffix}", "ZOO_OPTUNA_DB": f"zoo_optuna_{suffix}",
             "ZOO_AUTH_DB": f"zoo_auth_{suffix}"}
    password = secrets.token_urlsafe(18)
    env = {**os.environ, **names, "ZOO_PG_URL": pg_server, "ZOO_SERVICES_PORT": str(free_port()),
           "ZOO_SERVICES_WORKERS": "1", "ZOO_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
           "ZOO_SERVICES_DIR": str(tmp_path / "services"), "ZOO_PYTHON": sys.executable,
           "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": password}
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True,
                                 timeout=240)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert "Authentication: on" in started.stdout
        exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
                       if line.startswith("export "))
        assert set(exports) == {"MLFLOW_TRACKING_URI", "ZOO_OPTUNA_STORAGE"}
        assert exports["ZOO_OPTUNA_STORAGE"] == f"{pg_server}/{names['ZOO_OPTUNA_DB']}"
        with pytest.MonkeyPatch.context() as logged_in:  # this module's clients are the team's admin
            logged_in.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            logged_in.setenv("MLFLOW_TRACKING_PASSWORD", password)
            yield {**exports, "artifact_root": env["ZOO_ARTIFACT_ROOT"], "admin_password": password,
                   "state": env["ZOO_SERVICES_DIR"]}
    finally:
        stopped = subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=60)
        engine = sqlalchemy.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in names.values():
                conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
    assert stopped.returncode == 0 and "stopped the MLflow server" in stopped.stdout, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def team_sweep(base_overrides, services) -> dict[str, str]:
    """A 2-worker smoke sweep run against the services as the README says; its study name."""
    uri, storage = services["MLFLOW_TRACKING_URI"], services["ZOO_OPTUNA_STORAGE"]
    paths = [o for o in base_overrides if not o.startswith("logger.")]  # the server is the store
    study_name = f"team-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "zoo.sweep", "sweep=classification_trec", f"study_name={study_name}",
               "n_trials=2", "workers=2", "debug=smoke", "register=true", "confirm=false", "pruner=none",
               "recipe=[" + ",".join([*paths, *TINY]) + "]"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "ZOO_OPTUNA_STORAGE": storage}  # as the README exports them
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert services["admin_password"] not in result.stdout + result.stderr
    return {**services, "study_name": study_name}


def test_two_workers_sweep_against_the_team_services(team_sweep) -> None:
    uri, storage, study_name = (team_sweep[k] for k in ("MLFLOW_TRACKING_URI", "ZOO_OPTUNA_STORAGE", "study_name"))

    study = optuna.load_study(study_name=study_name, storage=storage)  # the study is in PostgreSQL
    trials = [t for t in study.trials if "zoo.surplus" not in t.user_attrs]  # a surplus trial never trains
    states = "\n".join(f"{t.number} {t.state.name} {t.user_attrs.get('fail_reason', '')}" for t in study.trials)
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials), states
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # both workers took a trial

    client = mlflow.MlflowClient(uri)  # the runs are in the server
    parent = client.get_run(study.user_attrs["mlflow_parent_run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.info.run_id for c in children) == sorted(t.user_attrs["mlflow_run_id"] for t in trials)
    assert {c.info.status for c in children} == {"FINISHED"}
    # artifacts went through the server (proxied) into the shared artifact root
    assert parent.info.artifact_uri.startswith("mlflow-artifacts:")
    root = Path(team_sweep["artifact_root"])
    assert {p.name for p in root.rglob("*")} >= {"best.ckpt", "trials.csv", "bundle.pt"}

    registered = parent.data.tags["sweep.registered"]  # models:/<name>/<version>
    name = registered.split("/")[1]
    aliases = set(client.get_registered_model(name).aliases)
    assert aliases >= {"challenger", "champion"}  # the first version of a fresh registry is promoted
    texts = ["what is the capital of france ?", "who wrote hamlet ?"]
    model = load_registered(f"models:/{name}@champion", uri)
    answer = model.predict(pd.DataFrame({"text": texts}))
    assert list(answer.columns) == ["label", "label_name", "probabilities"] and len(answer) == 2
    # (`zoo-serve` loads a model by this same download; tests/test_servers.py serves one over REST)


def test_mlflow_ui_opens_on_training_runs_with_metric_columns(base_overrides, team_sweep, tmp_path: Path) -> None:
    """The check that counts (issue 12): headless Chromium on the team server's UI, with a
    finished run, a sweep and a registered model. The link the zoo prints lands on the runs
    table with metric columns, not the GenAI overview; from the experiments list, a click lands
    there once the UI's own mode switch says "Model training" (zoo/tracking/ui_view.py); screenshots
    of the run list, the sweep's parent and children and the registry go to ZOO_UI_SCREENSHOTS
    (`make ui-screenshots` writes docs/ui/)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    uri = team_sweep["MLFLOW_TRACKING_URI"]
    paths = [o for o in base_overrides if not o.startswith("logger.")]
    run = run_training(compose_config([*paths, f"logger.tracking_uri={uri}", "task=classification", *SMOKE_RUN]))
    client = mlflow.MlflowClient(uri)
    experiment_id = client.get_run(run.run_id).info.experiment_id
    assert run.experiment_id == experiment_id and experiment_page(uri, experiment_id) in format_summary(run)
    parent = optuna.load_study(study_name=team_sweep["study_name"],
                               storage=team_sweep["ZOO_OPTUNA_STORAGE"]).user_attrs["mlflow_parent_run_id"]
    model_name = client.get_run(parent).data.tags["sweep.registered"].split("/")[1]
    shots = Path(os.environ.get("ZOO_UI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with browser(login=("admin", team_sweep["admin_password"])) as driver:
        driver.get(experiment_page(uri, experiment_id))  # the link the run summary prints
        text = page_text(driver, until=("val/best", "test/acc", "sweep-"))
        assert f"/experiments/{experiment_id}/runs" in driver.current_url, driver.current_url
        for close in driver.find_elements(By.CSS_SELECTOR, "button[aria-label=Close]"):
            close.click()  # the MLflow Assistant panel opens on a first visit
        time.sleep(1)  # the grid renders the columns the freed width shows
        headers = {e.text for e in driver.find_elements(By.CSS_SELECTOR, "[role=columnheader]") if e.text}
        assert {"Run Name", "Metrics", "val/best", "val/acc", "test/acc", "train/loss", "Parameters"} <= headers, \
            (headers, text[:2000])
        assert "Traces" not in headers and "lstm-zoo: metrics" in text
        driver.save_screenshot(str(shots / "runs.png"))

        cells = driver.find_elements(By.CSS_SELECTOR, "[role=gridcell]")
        sweep_row = next((c for c in cells if "sweep-" in c.text), None)
        assert sweep_row is not None, [c.text for c in cells]
        sweep_row.find_element(By.CSS_SELECTOR, "button").click()  # the parent's expander
        page_text(driver, until=("t000-", "t001-"))
        driver.save_screenshot(str(shots / "sweep.png"))

        driver.set_window_size(1800, 1300)  # the versions table with its aliases below the description
        driver.get(f"{uri}/#/models/{model_name}?workflowType=machine_learning")
        text = page_text(driver, until=("champion", "Version 1"))
        assert "champion" in text and "challenger" in text, text[:2000]
        driver.save_screenshot(str(shots / "registry.png"))

        # from the experiments list, a click follows the UI's mode switch: flipped once to
        # "Model training" (as `make ui` says), the browser keeps it and lands on the runs table
        driver.get(f"{uri}/#/experiments")
        page_text(driver, until=(run.experiment_name, "Model training"))
        driver.find_element(By.XPATH, "//*[normalize-space(text())='Model training']").click()
        WebDriverWait(driver, 30).until(  # the switch is kept in the browser's local storage
            lambda d: "machine_learning" in d.execute_script("return JSON.stringify(window.localStorage)"))
        time.sleep(2)  # the list re-renders for the new mode
        page_text(driver, until=(run.experiment_name,))
        links = [a for a in driver.find_elements(By.LINK_TEXT, run.experiment_name)  # the list's row, not the sidebar
                 if (a.get_attribute("href") or "").endswith(f"/experiments/{experiment_id}")]
        assert links, page_text(driver, timeout=0)[:2000]
        hrefs = [a.get_attribute("href") for a in links]
        driver.execute_script("arguments[0].click();", links[0])
        WebDriverWait(driver, 60).until(lambda d: f"/experiments/{experiment_id}/" in d.current_url, hrefs)
        page_text(driver, until=("Run Name",))
        assert f"/experiments/{experiment_id}/runs" in driver.current_url, driver.current_url
    assert {p.name for p in shots.glob("*.png")} >= {"runs.png", "sweep.png", "registry.png"}


def test_anonymous_clients_are_refused(base_overrides, team_sweep, monkeypatch) -> None:
    uri = team_sweep["MLFLOW_TRACKING_URI"]
    name = _registered_name(team_sweep)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    client = mlflow.MlflowClient(uri)
    for attempt in (lambda: client.create_run("0"), lambda: client.create_registered_model("anonymous-model"),
                    lambda: client.set_registered_model_alias(name, "champion", "1")):
        with pytest.raises(MlflowException) as refused:
            attempt()
        assert refused.value.error_code == "UNAUTHENTICATED" and "401" in str(refused.value)
    # the tools say so in one line (here zoo-train, when it opens its run)
    paths = [o for o in base_overrides if not o.startswith("logger.")]
    result = subprocess.run([sys.executable, "-m", "zoo.train", *paths, *SMOKE_RUN, f"logger.tracking_uri={uri}"],
                            cwd=PROJECT_ROOT, env={**os.environ, "MLFLOW_TRACKING_URI": uri},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"error: the tracking server {uri} wants a login" in result.stderr and "MLFLOW_TRACKING_USERNAME" \
        in result.stderr


def test_a_user_who_may_read_a_model_cannot_promote_it(team_sweep, capsys) -> None:
    """The admin adds a user and grants READ on the registered model, as docs/team-deployment.md
    says; `zoo-promote` as that user is refused in one line and the aliases do not move."""
    uri = team_sweep["MLFLOW_TRACKING_URI"]
    name = _registered_name(team_sweep)
    reader, password = f"reader-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(15)
    admin = get_app_client("basic-auth", tracking_uri=uri)
    admin.create_user(reader, password)
    admin.grant_user_permission(reader, "registered_model", name, "READ")
    client = mlflow.MlflowClient(uri)
    client.delete_registered_model_alias(name, "champion")  # so that the gate would move it
    before = dict(client.get_registered_model(name).aliases)

    with pytest.MonkeyPatch.context() as as_reader:  # in process, logged in as the reader
        for key, value in {"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_USERNAME": reader,
                           "MLFLOW_TRACKING_PASSWORD": password}.items():
            as_reader.setenv(key, value)
        assert mlflow.MlflowClient().get_registered_model(name).name == name  # reading is allowed
        with pytest.raises(SystemExit) as exit_:
            promote.main([f"model={name}", "version=1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err, err[-2000:]
    assert "refused" in err and repr(reader) in err, err
    assert dict(client.get_registered_model(name).aliases) == before
    code = promote.main([f"model={name}", "version=1", f"tracking_uri={uri}"])  # the module's login: the admin
    out, err = capsys.readouterr()
    assert code == 0 and "promoted" in out, err[-2000:]


def test_the_admin_password_is_never_written(team_sweep) -> None:
    password = team_sweep["admin_password"]
    files = [p for p in Path(team_sweep["state"]).rglob("*") if p.is_file()]
    written = [p for p in files if password in p.read_text(errors="ignore")]
    assert not written  # the server log, its auth settings, the pid file
    assert oct(Path(team_sweep["state"], "basic_auth.ini").stat().st_mode & 0o777) == "0o600"


def test_the_team_server_needs_an_admin_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_AUTH_ADMIN_PASSWORD"}
    env.update(ZOO_SERVICES_DIR=str(tmp_path), ZOO_SERVICES_PORT=str(free_port()), ZOO_PYTHON=sys.executable)
    result = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "error: set MLFLOW_AUTH_ADMIN_PASSWORD (12 characters or more)" in result.stderr
    short = subprocess.run(["bash", str(SCRIPT), "start"], env={**env, "MLFLOW_AUTH_ADMIN_PASSWORD": "short"},
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 1 and "12 characters or more" in short.stderr
    assert not (tmp_path / "mlflow.pid").exists()


def _registered_name(team_sweep: dict[str, str]) -> str:
    client = mlflow.MlflowClient(team_sweep["MLFLOW_TRACKING_URI"])
    parent = optuna.load_study(study_name=team_sweep["study_name"],
                               storage=team_sweep["ZOO_OPTUNA_STORAGE"]).user_attrs["mlflow_parent_run_id"]
    return client.get_run(parent).data.tags["sweep.registered"].split("/")[1]


def test_compose_file_has_the_scripts_variables_and_defaults() -> None:
    """compose.yaml cannot run here (no Docker daemon): keep it in step with the tested script."""
    pattern = re.compile(r"\$\{(ZOO_[A-Z_]+):-([^}$]*)\}")
    script = dict(pattern.findall(SCRIPT.read_text()))
    compose_text = (PROJECT_ROOT / "compose.yaml").read_text()
    compose = dict(pattern.findall(compose_text))
    shared = {"ZOO_MLFLOW_DB", "ZOO_OPTUNA_DB", "ZOO_AUTH_DB", "ZOO_AUTH_DEFAULT_PERMISSION", "ZOO_SERVICES_HOST",
              "ZOO_SERVICES_PORT", "ZOO_SERVICES_WORKERS"}
    assert {k: script[k] for k in shared} == {k: compose[k] for k in shared}
    # the artifact root: mlartifacts-server/ in the checkout, for both
    assert "${ZOO_ARTIFACT_ROOT:-$ROOT/mlartifacts-server}" in SCRIPT.read_text()
    assert compose["ZOO_ARTIFACT_ROOT"] == "./mlartifacts-server"
    version = re.search(r"ghcr.io/mlflow/mlflow:v([\d.]+)", compose_text)
    assert version and version.group(1) == mlflow.__version__  # the image runs the mlflow we install
    assert "MLFLOW_SERVER_ENABLE_JOB_EXECUTION" in compose_text and "--serve-artifacts" in compose_text
    assert "--app-name=basic-auth" in compose_text and "MLFLOW_AUTH_ADMIN_PASSWORD:?" in compose_text
