"""Worker processes on this host for a study (a sweep or a benchmark): each is the same
command with `role=worker`, so workers on other machines are started the same way."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import optuna
import torch

from zoo import interrupts

THREADS_ENV = "ZOO_TORCH_THREADS"
STOP_WAIT_S = 120  # a stopped worker closes its trial and MLflow run; then it is killed


def spawn_workers(module: str, argv: list[str], count: int) -> int:
    """Run `count` workers of `python -m <module> <argv> role=worker` and wait for them; the
    cores are split between them. Returns how many exited with an error."""
    threads = max(1, (os.cpu_count() or 1) // count)
    env = {**os.environ, THREADS_ENV: str(threads)}
    workers = [subprocess.Popen([sys.executable, "-m", module, *argv, "role=worker", f"worker_index={i + 1}"],
                                env=env) for i in range(count)]
    try:
        codes = [w.wait() for w in workers]
    except BaseException:  # SIGTERM/SIGINT to the launcher alone (a scheduler's kill): the workers stop too
        stop_workers(workers, interrupts.received() or signal.SIGTERM)
        raise
    if any(codes):
        print(f"error: worker exit codes {codes}; their output above says why", file=sys.stderr)
    return sum(1 for c in codes if c)


def stop_workers(workers: list[subprocess.Popen], signum: int) -> None:
    """Pass the launcher's signal on, so that each worker fails its trial and closes its MLflow
    run as a stopped single process does, instead of training on as an orphan; a worker that
    has not ended after STOP_WAIT_S is killed (its trial is then failed by the heartbeat)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signum)
    for worker in workers:
        try:
            worker.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def apply_worker_threads() -> None:
    """A spawned worker uses its share of the cores (set by `spawn_workers`)."""
    if THREADS_ENV in os.environ:
        torch.set_num_threads(int(os.environ[THREADS_ENV]))


def quiet_libraries() -> None:
    """Our own one line per run instead of Optuna's and Lightning's info messages."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
