"""Start a local server for a test (MLflow tracking server, `mlflow models serve`) on a free
loopback port, wait until it answers, and stop it afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(command: list[str], url: str, env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[None]:
    """Run `command` until `url` answers 200, yield, then terminate it. These servers are
    ours (the venv's `mlflow`), so one that dies or never answers fails the test."""
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command[:3]} exited with {process.returncode}: {process.stdout.read()[-1500:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail(f"{command[:3]} did not answer at {url} within {timeout} s")
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

def server_absent(reason: str) -> None:
    """Skip a test whose server is not running, with the reason; under CI
    (ZOO_REQUIRE_SERVERS=1, set by .ci/run) that is a failure instead."""
    if os.environ.get("ZOO_REQUIRE_SERVERS") == "1":
        pytest.fail(reason + " (ZOO_REQUIRE_SERVERS=1: CI must run this test)")
    pytest.skip(reason)


@contextmanager
def serving(model_uri: str, tracking_uri: str) -> Iterator[str]:
    """`mlflow models serve` of a registered model, as `make serve` runs it (this venv's
    uvicorn, `--env-manager local`), on a free port; yields its base URL."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", model_uri,
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    env = {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with running(command, f"http://127.0.0.1:{port}/ping", env=env):
        yield f"http://127.0.0.1:{port}"


def invoke(url: str, payload: dict) -> list:
    """The predictions a served model answers to one JSON request."""
    request = urllib.request.Request(f"{url}/invocations", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]
