"""Runs left RUNNING by a process that died without closing them (SIGKILL, out of memory, a lost
machine): every training run records its host and pid as tags, and the next run on that host
closes those whose process is gone as KILLED, as sweeps do for their trials."""

from __future__ import annotations

import os
import socket

import mlflow

HOST_TAG = "host"
PID_TAG = "zoo.pid"
REASON_TAG = "zoo.closed_reason"


def process_tags() -> dict[str, str]:
    """Which process owns a run: what `close_orphaned_runs` checks later."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_orphaned_runs(tracking_uri: str) -> list[str]:
    """Mark KILLED every RUNNING run recorded by a process of this host that no longer exists;
    returns their ids. Runs without a recorded pid (other tools, older versions) are left alone."""
    client = mlflow.MlflowClient(tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return []
    host = socket.gethostname()
    closed = []
    for run in client.search_runs(experiment_ids, f"attributes.status = 'RUNNING' and tags.{HOST_TAG} = '{host}'",
                                  max_results=1000):
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            client.set_tag(run.info.run_id, REASON_TAG, f"its process {host}:{pid} ended without closing it")
            client.set_terminated(run.info.run_id, "KILLED")
            closed.append(run.info.run_id)
    return closed
