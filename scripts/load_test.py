"""Bounded load test of `zoo-serve` (issue 22): for each worker setting, start the server for a
registered classifier on a free loopback port, then hold 8, 32 and 64 concurrent clients for a
fixed time each, and report requests/s, p50/p99 latency, errors and the server's memory (the
resident set of its whole process tree) before and after. The clients are one asyncio process
speaking HTTP/1.1 with keep-alive, so the load generator costs little CPU beside the server.

    python scripts/load_test.py model=models:/trec-classification@champion workers=1,2 threads=1,2 \
        batching=true,false seconds=60
    (make load MODEL=... WORKERS=1,2 THREADS=1,2)
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TEXTS = ["what is the capital of france ?", "who wrote the novel war and peace ?",
         "how many people live in tokyo ?", "a gripping , funny and moving film"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, from /proc (MB)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = (Path("/proc") / str(current) / "status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


async def client(port: int, stop: float, latencies: list[float], errors: list[str], index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            body = json.dumps({"inputs": {"text": [TEXTS[index % len(TEXTS)]]}}).encode()
            request = (f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            answer = await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            if not head.startswith(b"HTTP/1.1 200") or b"predictions" not in answer:
                errors.append(head.split(b"\r\n")[0].decode())
    except (OSError, asyncio.IncompleteReadError) as err:
        errors.append(repr(err))
    finally:
        writer.close()


async def level(port: int, clients: int, seconds: float) -> tuple[int, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, stop, latencies, errors, i) for i in range(clients)))
    return len(latencies), latencies, errors


def serve(model: str, workers: int, threads: int, batching: str, port: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "zoo.serve", f"model={model}", f"port={port}", f"workers={workers}",
               f"threads={threads}", f"batching={batching}"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            log.seek(0)
            sys.exit(f"error: zoo-serve exited: {log.read()[-1500:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit("error: zoo-serve did not answer within 180 s")


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv)
    model = options.get("model") or sys.exit("usage: load_test.py model=models:/NAME@ALIAS [workers=1,2] "
                                              "[threads=1] [batching=true,false] [clients=8,32,64] [seconds=60]")
    workers = [int(w) for w in options.get("workers", "1,2").split(",")]
    threads = [int(t) for t in options.get("threads", "1").split(",")]
    lanes = options.get("batching", "true").split(",")
    levels = [int(c) for c in options.get("clients", "8,32,64").split(",")]
    seconds = float(options.get("seconds", "60"))
    print(f"zoo-serve {model}: {seconds:.0f} s per level, clients on the same host ({os.cpu_count()} CPUs)")
    print("| batching | workers | threads | clients | requests/s | p50 ms | p99 ms | errors | server RSS start MB "
          "| end MB | growth |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for lane, count, torch_threads in ((b, w, t) for b in lanes for w in workers for t in threads):
        port = free_port()
        with tempfile.TemporaryFile("w+") as log:
            process = serve(model, count, torch_threads, lane, port, log)
            try:
                asyncio.run(level(port, 4, 5))  # warm-up: every worker loads and runs the model once
                for clients in levels:
                    before = tree_rss_mb(process.pid)
                    done, latencies, errors = asyncio.run(level(port, clients, seconds))
                    after = tree_rss_mb(process.pid)
                    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
                    print(f"| {lane} | {count} | {torch_threads} | {clients} | {done / seconds:,.0f} | "
                          f"{cuts[49]:.1f} | {cuts[98]:.1f} | "
                          f"{len(errors)} | {before:,.0f} | {after:,.0f} | {100 * (after - before) / before:+.1f}% |",
                          flush=True)
                    if errors:
                        print(f"  first errors: {sorted(set(errors))[:3]}")
            finally:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
