"""The work loop and the launcher every study shares: take one trial at a time while there is
work, fail the trials of workers that stopped beating, and either work here or start N worker
processes of the same command (`role=worker`) and wait for them."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

import optuna

from zoo.errors import ZooError
from zoo.sweeps.orchestration.storage import OUTAGE_S, database_reason, storage_unreachable
from zoo.sweeps.orchestration.workers import spawn_workers
from zoo.training.callbacks import format_duration

Progress = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]
MAX_FAILED_WRITES = 3


def work(study: optuna.Study, objective: Callable[[optuna.Trial], object], progress: Progress,
         more: Callable[[], bool], retry_s: float = 5.0) -> None:
    """Run trials one at a time while `more()`; a failed trial is recorded and the loop goes on.
    An unreachable storage (a database restart) is waited for, up to OUTAGE_S, with one line;
    a trial it interrupted is failed by the heartbeat, and its work is done again. A storage
    that answers reads but fails every trial's writes (a full disk) is no outage: after
    MAX_FAILED_WRITES trials in a row the loop stops instead of training on for nothing."""
    outage_since: float | None = None
    failed_writes = 0
    while True:
        reached = False
        try:
            if not more():
                return
            outage_since, reached = None, True
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[progress], gc_after_trial=True)
            failed_writes = 0
            with warnings.catch_warnings():  # other hosts' dead workers, after their grace period
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        except Exception as err:
            if not storage_unreachable(err):
                raise
            failed_writes += reached
            if failed_writes >= MAX_FAILED_WRITES:
                raise ZooError(f"the Optuna storage answers but failed {failed_writes} trials in a row "
                               f"({database_reason(err)}); fix the database and rerun the command: the study resumes"
                               ) from None
            if outage_since is None:
                outage_since = time.time()
                print(f"the Optuna storage is unreachable ({database_reason(err)}); waiting up to {OUTAGE_S} s for it",
                      flush=True)
            elif time.time() - outage_since > OUTAGE_S:
                raise ZooError(f"the Optuna storage was unreachable for {OUTAGE_S} s ({database_reason(err)}); start "
                               "the database again and rerun the command: the study resumes") from None
            time.sleep(retry_s)


class Job(Protocol):
    """One study ready to run: a search, or one recipe's seeds."""

    def work(self) -> None:
        """Take this study's trials until none is left for this process."""

    def abort(self) -> None:
        """The launcher stopped: mark the parent run KILLED (a rerun resumes it)."""


def launch(jobs: Sequence[Job], role: str, workers: int, module: str, argv: list[str]) -> int:
    """Launcher with `workers` > 1: spawn `python -m <module> <argv> role=worker` x N and wait
    (each worker works every job); otherwise work each job here, in order. Returns how many
    workers exited with an error. A stop or a failure marks every job's parent run KILLED."""
    try:
        if role == "launcher" and workers > 1:
            return spawn_workers(module, argv, workers)
        for job in jobs:
            job.work()
        return 0
    except BaseException:
        if role == "launcher":
            for job in jobs:
                job.abort()
        raise


def eta_seconds(durations: list[float], trials_left: int, workers: int) -> float | None:
    """Mean trial wall time x trials left / workers (None before any trial has finished)."""
    if not durations:
        return None
    return sum(durations) / len(durations) * max(0, trials_left) / max(1, workers)


def format_eta(seconds: float | None) -> str:
    """`ETA 4m10s`; `ETA -` before any trial has finished."""
    return "ETA -" if seconds is None else f"ETA {format_duration(seconds)}"
