"""The Optuna storage every study shares (sweeps, benchmarks, comparisons), so that workers
on other machines find them: the URL, heartbeats that fail a dead worker's trial and close
its MLflow run, SQLite's write lock, and the study's MLflow parent run."""

from __future__ import annotations

import datetime
import os
import socket
import warnings
from typing import Any

import mlflow
import optuna
import sqlalchemy
from optuna.trial import TrialState

from zoo.errors import ConfigError
from zoo.paths import PROJECT_ROOT
from zoo.secrets import mask
from zoo.tracking.orphans import pid_alive

HEARTBEAT_S = 10
GRACE_S = 60
OUTAGE_S = 180  # how long a worker waits for an unreachable storage (a database restart) before it stops
SURPLUS_ATTR = "zoo.surplus"  # a trial asked for after the budget was taken (claim_budget)
PARENT_ATTR = "mlflow_parent_run_id"  # the study's MLflow parent run (a sweep's or a benchmark's)


def storage_url(explicit: str | None = None) -> str:
    """`explicit` (a spec's or the command line's), else ZOO_OPTUNA_STORAGE, else the embedded
    SQLite file: sweeps and benchmarks share one storage, so workers find both."""
    return explicit or os.environ.get("ZOO_OPTUNA_STORAGE") or f"sqlite:///{PROJECT_ROOT}/optuna.db"


def masked(url: str) -> str:
    """The URL with any password replaced by ***, for logs and error messages."""
    return mask(url)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (so a killed worker's trial is failed), checked now:
    an unreachable or malformed URL fails fast, naming the URL without its password."""
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    elif url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = sqlalchemy.create_engine(url, **engine_kwargs)
        with engine.connect():
            pass
        engine.dispose()
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since v2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = BeatingRDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=close_child_run,
            )
        if url.startswith("sqlite"):
            begin_immediate(storage.engine)
        return storage
    except Exception as err:  # noqa: BLE001 - driver errors vary; all mean "cannot use this storage"
        reason = database_reason(err)
        if isinstance(err, ModuleNotFoundError):  # the URL is fine; its database driver is not installed
            raise ConfigError(f"cannot open the Optuna storage {masked(url)}: its database driver is not "
                              f"installed ({reason}); run `pip install {err.name}` or `make install`") from None
        raise ConfigError(
            f"cannot open the Optuna storage {masked(url)}: {reason}. Check the URL, that the "
            "server runs, or unset ZOO_OPTUNA_STORAGE to use the embedded optuna.db"
        ) from None


def connection_error_in(err: BaseException) -> BaseException | None:
    """The error in `err`'s chain that says the database could not be reached (a restart, a
    dropped connection), which passes, rather than a query it refused, which does not; None
    if there is none. Optuna wraps SQLAlchemy's errors in StorageInternalError, and its tell
    can bury one under an error of its own cleanup: the chain tells them apart."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return current
        if isinstance(current, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return current
        current = current.__cause__ or current.__context__
    return None


def storage_unreachable(err: BaseException) -> bool:
    return connection_error_in(err) is not None


def database_reason(err: BaseException) -> str:
    """One line in the database's own words: its connection error if the chain holds one (not
    Optuna's "invalid data in the commit" wrapper around it), else `err`'s first line."""
    cause = connection_error_in(err) or err
    cause = getattr(cause, "orig", None) or cause
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


class BeatingRDBStorage(optuna.storages.RDBStorage):
    """An RDB storage whose heartbeat survives the database going away for a while.

    Why: Optuna's heartbeat thread ends at its first exception, so one beat that hits a
    database restart silences a live trial for good, and GRACE_S later another worker fails it
    as stale while its worker still trains it (found by the chaos soak). A beat that cannot be
    written is skipped; the next one, HEARTBEAT_S later, tries again."""

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as err:
            if not storage_unreachable(err):
                raise


def begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
    """Every SQLite transaction takes the write lock when it begins (`BEGIN IMMEDIATE`).

    Why: a worker claims a queued trial by reading that it waits and marking it running in
    one transaction, with SELECT ... FOR UPDATE, which SQLite ignores; two workers could both
    read "waiting" and run the same trial, and the second then failed with "Cannot tell a
    COMPLETE trial" (optuna/optuna#4002; 6 to 12 double claims in 60 with two processes here).
    With the lock taken first, the second reads "running" and takes the next trial. This is
    SQLAlchemy's documented pysqlite recipe: pysqlite's own implicit BEGIN is switched off."""

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections pooled before the listeners existed


def close_child_run(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A trial failed without its worker (heartbeat lost, process killed): mark its MLflow
    child run FAILED too, so the UI never shows a run RUNNING forever."""
    run_id, uri = trial.user_attrs.get("mlflow_run_id"), study.user_attrs.get("mlflow_tracking_uri")
    if run_id and uri:
        client = mlflow.MlflowClient(uri)
        client.set_tag(run_id, "optuna.state", "FAIL")
        client.set_tag(run_id, "optuna.fail_reason", f"worker {trial.user_attrs.get('worker', '?')} stopped")
        client.set_terminated(run_id, "FAILED")


def name_metrics(study: optuna.Study, names: list[str]) -> None:
    """Name the objective values (`val/acc` rather than "Objective 0" in optuna-dashboard and
    the plots); written once, read back from the storage afterwards."""
    if study.metric_names != names:
        with warnings.catch_warnings():  # still "experimental" in Optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_local_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Fail RUNNING trials whose worker ran on this host and is gone (a SIGKILL, a crash), and
    trials that never named a worker although GRACE_S has passed since they began: a worker
    names itself first thing, so such a trial's worker died between Optuna's `ask` and its
    first heartbeat, and neither this check nor the heartbeat would ever fail it. Trials of
    workers on other hosts are failed by Optuna's heartbeat after GRACE_S."""
    host = socket.gethostname()
    reaped = []
    now = datetime.datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        worker_host, _, pid = worker.rpartition(":")
        dead_here = worker_host == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid))
        nameless = not worker and trial.datetime_start is not None and (
            now - trial.datetime_start).total_seconds() > GRACE_S
        if dead_here or nameless:
            try:
                study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker's sweep-up (or a heartbeat) failed it between our read and our write
            close_child_run(study, trial)
            reaped.append(trial)
    return reaped


def failures(study: optuna.Study) -> int:
    """FAIL trials that failed on their own error (the objective recorded a `fail_reason`):
    not the surplus ones (see `claim_budget`), and not those of a worker that was killed or
    died (failed by a heartbeat or another process's sweep-up, with no reason of their own),
    so a soak's kills never spend a sweep's `max_failures` while a broken spec still does,
    whichever worker meets it."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(1 for t in failed if "fail_reason" in t.user_attrs and SURPLUS_ATTR not in t.user_attrs)


class SurplusTrial(Exception):
    """This trial was asked for after the budget was taken."""


def claim_budget(trial: optuna.Trial, n_trials: int) -> None:
    """End a trial that the budget has no room for, before it trains or opens a run.

    Why: Optuna's `ask` is no claim. Near the end of a study two workers can both read "one
    trial left" and both ask, so n_trials + 1 trials would finish (the chaos soak's 4 workers
    did). Trial numbers are handed out in order by the storage, so the earlier number wins: a
    trial with n_trials complete, pruned or running trials numbered before it is surplus, and
    ends as FAIL marked `zoo.surplus`, which no failure budget counts."""
    earlier = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                            TrialState.RUNNING))
    if sum(1 for t in earlier if t.number < trial.number) >= n_trials:
        reason = f"surplus: the other workers hold the last of the {n_trials} trials"
        trial.set_user_attr(SURPLUS_ATTR, True)
        trial.set_user_attr("fail_reason", reason)
        raise SurplusTrial(reason)


def counts(study: optuna.Study) -> dict[str, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {state.name: states.count(state) for state in TrialState}
