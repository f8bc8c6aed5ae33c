"""Optuna storage, sampler, pruner and study: created once, resumed on every rerun."""

from __future__ import annotations

import hashlib
import json
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
from zoo.sweeps.factories import build
from zoo.sweeps.spec import SweepSpec
from zoo.tracking.orphans import pid_alive

HEARTBEAT_S = 10
GRACE_S = 60
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
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=close_child_run,
            )
        if url.startswith("sqlite"):
            begin_immediate(storage.engine)
        return storage
    except Exception as err:  # noqa: BLE001 - driver errors vary; all mean "cannot use this storage"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, ModuleNotFoundError):  # the URL is fine; its database driver is not installed
            raise ConfigError(f"cannot open the Optuna storage {masked(url)}: its database driver is not "
                              f"installed ({reason}); run `pip install {err.name}` or `make install`") from None
        raise ConfigError(
            f"cannot open the Optuna storage {masked(url)}: {reason}. Check the URL, that the "
            "server runs, or unset ZOO_OPTUNA_STORAGE to use the embedded optuna.db"
        ) from None


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


def make_sampler(spec: SweepSpec, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler; `offset` shifts the seed so resumed or parallel workers do not
    replay the trials already sampled."""
    return build(spec.sampler, "sampler", seed_offset=offset)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The spec's pruner; none for a multi-objective study (Optuna prunes single-objective ones only)."""
    if spec.multi_objective:
        return optuna.pruners.NopPruner()
    return build(spec.pruner, "pruner")


def load_study(spec: SweepSpec, storage: optuna.storages.BaseStorage, offset: int = 0) -> optuna.Study:
    """Create the study, or load it when it exists (the rerun of a command resumes it)."""
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        directions=spec.directions,
        pruner=make_pruner(spec),
        load_if_exists=True,
    )
    if [d.name.lower() for d in study.directions] != spec.directions:
        raise ConfigError(
            f"study {spec.study_name!r} exists with directions {[d.name.lower() for d in study.directions]}, "
            f"but the spec asks for {spec.directions}; use another study_name"
        )
    existing = len(study.get_trials(deepcopy=False))
    fingerprint = spec_fingerprint(spec)
    recorded = study.user_attrs.get("spec_fingerprint")
    if recorded is None:
        study.set_user_attr("spec_fingerprint", fingerprint)
    elif recorded != fingerprint and existing:
        raise ConfigError(
            f"study {spec.study_name!r} was run with another recipe, search space or objectives, so its "
            f"trials cannot be compared with this spec's; set study_name=<new name> (or delete the study)"
        )
    name_metrics(study, [o.metric for o in spec.objectives])
    if existing == 0 and offset == 0:  # a new study starts from the spec's known-good points
        for params in spec.enqueue:
            study.enqueue_trial(params, skip_if_exists=True)
    study.sampler = make_sampler(spec, offset + existing)
    return study


def name_metrics(study: optuna.Study, names: list[str]) -> None:
    """Name the objective values (`val/acc` rather than "Objective 0" in optuna-dashboard and
    the plots); written once, read back from the storage afterwards."""
    if study.metric_names != names:
        with warnings.catch_warnings():  # still "experimental" in Optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)


def existing_study(spec: SweepSpec, storage: optuna.storages.BaseStorage, url: str, advice: str) -> optuna.Study:
    """The spec's study as it stands, for reading (reports): never created or changed, and
    refused, ending in `advice`, when it is missing or was run with other directions, recipe,
    search space or objectives than the spec's (its trials would be mislabelled)."""
    try:
        study = optuna.load_study(study_name=spec.study_name, storage=storage,
                                  sampler=optuna.samplers.RandomSampler(seed=0))
    except KeyError:
        raise ConfigError(f"no study {spec.study_name!r} (sweep {spec.name}) in the Optuna storage "
                          f"{masked(url)}; {advice}") from None
    directions = [d.name.lower() for d in study.directions]
    recorded = study.user_attrs.get("spec_fingerprint")
    if directions != spec.directions or (recorded is not None and recorded != spec_fingerprint(spec)):
        raise ConfigError(f"study {spec.study_name!r} was run with another recipe, search space, objectives or "
                          f"directions than sweeps/{spec.name}.yaml has now, so its trials cannot be read with "
                          "this spec; restore the spec, or give the spec a new study_name and rerun it")
    return study


def spec_fingerprint(spec: SweepSpec) -> str:
    """What makes trials comparable: recipe, search space, objectives (not budget or sampler)."""
    content = {"recipe": spec.recipe, "objectives": [vars(o) for o in spec.objectives],
               "space": {k: {f: (list(v) if isinstance(v, tuple) else v) for f, v in vars(p).items()}
                         for k, p in spec.search_space.items()}}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_local_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Fail RUNNING trials whose worker ran on this host and is gone (a SIGKILL, a crash).
    Trials of workers on other hosts are failed by Optuna's heartbeat after GRACE_S."""
    host = socket.gethostname()
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            close_child_run(study, trial)
            reaped.append(trial)
    return reaped


def counts(study: optuna.Study) -> dict[str, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {state.name: states.count(state) for state in TrialState}


def reopen_parent_run(study: optuna.Study, client: mlflow.MlflowClient, advice: str) -> str | None:
    """The MLflow parent run the study recorded, set RUNNING again for a resumed run; None
    for a new study. A parent missing from the store is a ConfigError ending in `advice`."""
    run_id = study.user_attrs.get(PARENT_ATTR)
    if not run_id:
        return None
    try:
        client.update_run(run_id, status="RUNNING")
    except mlflow.exceptions.MlflowException:
        raise ConfigError(
            f"study {study.study_name!r} tracks its runs in MLflow run {run_id}, which is not in "
            f"{mask(client.tracking_uri)} (was the MLflow store reset, or MLFLOW_TRACKING_URI changed?); use that "
            f"store again, or {advice}") from None
    return run_id
