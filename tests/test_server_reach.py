"""`check_server` tells a dead MLflow server (refused: fail at once) from a busy one (slow to
answer: ask again, within a patience). CI once failed a sweep trial because the team server's one
request worker took more than the 5 s timeout to answer /health while another worker uploaded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zoo.errors import ConfigError
from zoo.tracking.reach import check_server


class _SlowHealth(BaseHTTPRequestHandler):
    """Answers /health after `delay` seconds on the first request, at once afterwards."""

    delays: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.delays:
            time.sleep(self.delays.pop(0))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[tuple[str, type[_SlowHealth]]]:
    handler = type("Handler", (_SlowHealth,), {"delays": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_busy_server_is_asked_again_and_passes(slow_server) -> None:
    uri, handler = slow_server
    handler.delays = [0.6]  # the first answer comes after the first timeout
    check_server(uri, timeout=0.2, patience=5.0)  # no error: the second request is answered
    assert handler.delays == []


def test_a_server_that_never_answers_fails_after_the_patience() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts connections (the kernel does) but never answers
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    start = time.monotonic()
    try:
        with pytest.raises(ConfigError, match=r"does not answer within 1 s .*timed out"):
            check_server(uri, timeout=0.2, patience=1.0)
    finally:
        listener.close()
    assert 1.0 <= time.monotonic() - start < 5


def test_a_refused_connection_fails_at_once_without_waiting_for_patience() -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:1 does not answer \("):
        check_server("http://127.0.0.1:1", timeout=0.2, patience=30.0)
    assert time.monotonic() - start < 5
