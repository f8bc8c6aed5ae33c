"""The work loop and the launcher every study shares: take one trial at a time while there is
work, fail the trials of workers that stopped beating, and either work here or start N worker
processes of the same command (`role=worker`) and wait for them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

import optuna

from zoo.sweeps.orchestration.workers import spawn_workers
from zoo.training.callbacks import format_duration

Progress = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def work(study: optuna.Study, objective: Callable[[optuna.Trial], object], progress: Progress,
         more: Callable[[], bool]) -> None:
    """Run trials one at a time while `more()`; a failed trial is recorded and the loop goes on."""
    while more():
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[progress], gc_after_trial=True)
        with warnings.catch_warnings():  # other hosts' dead workers, after their grace period
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


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
