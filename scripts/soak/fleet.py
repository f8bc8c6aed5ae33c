"""The sweep's processes, as an operator runs them on one host: slot 0 is the launcher
(`zoo-sweep ...`, which makes the MLflow parent run, works trials itself, and reports and
registers once the budget is spent), the others are `role=worker` processes of the same
command. A slot whose process ended is started again while the study has work left, as a
scheduler restarts a failed job."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# the one-line errors of a tool started while PostgreSQL or the MLflow server is down
UNREACHABLE = ("cannot open the Optuna storage", "does not answer", "unreachable for")


@dataclass
class Slot:
    index: int
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)
    signalled: int | None = None  # the signal the chaos sent this process, if any
    crashes: list[str] = field(default_factory=list)  # exits no signal or outage explains
    refusals: list[str] = field(default_factory=list)  # starts refused because a server was down

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.starts, self.signalled = self.starts + 1, None
        with self.log.open("a") as out:
            out.write(f"\n===== start {self.starts} at {time.strftime('%H:%M:%S')} =====\n")
            out.flush()
            self.process = subprocess.Popen(self.command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def reap(self) -> int | None:
        """The exit code of a process that ended since the last call, else None."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.exit_codes.append(code)
        self.process = None
        expected = {0, -signal.SIGKILL} if self.signalled == signal.SIGKILL else {0, 128 + signal.SIGTERM}
        error = self.last_error()
        if code == 2 and any(words in error for words in UNREACHABLE):
            self.refusals.append(error)  # started while a server was down: one clear line, exit 2
        elif code not in expected:
            self.crashes.append(f"start {self.starts} exited {code}" + (
                f" after {signal.Signals(self.signalled).name}" if self.signalled else " unprompted")
                + (f": {error[:200]}" if error else ""))
        return code

    def last_error(self) -> str:
        """The last `error:` line of this slot's latest start."""
        latest = self.log.read_text(errors="replace").rsplit("===== start", 1)[-1]
        errors = [line for line in latest.splitlines() if line.startswith("error:")]
        return errors[-1] if errors else ""

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.signalled = signum
        self.process.send_signal(signum)


class Fleet:
    def __init__(self, base: list[str], workers: int, folder: Path, env: dict[str, str], cwd: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.env, self.cwd = env, cwd
        self.slots = [Slot(0, [*base, "workers=1"], folder / "launcher.log")]
        self.slots += [Slot(i, [*base, "workers=1", "role=worker", f"worker_index={i}"], folder / f"worker{i}.log")
                       for i in range(1, workers)]

    @property
    def launcher(self) -> Slot:
        return self.slots[0]

    def start(self, slots: list[Slot] | None = None) -> None:
        for slot in slots if slots is not None else self.slots:
            slot.start(self.env, self.cwd)

    def keep_alive(self, finished: int, running: int, n_trials: int) -> list[tuple[Slot, int]]:
        """Reap ended processes and start again each one that was stopped or crashed while the
        budget is not spent, and any that ended while trials are left unclaimed (a worker exits
        when the other workers hold the last trials; one of those may be killed next)."""
        ended = []
        for slot in self.slots:
            code = slot.reap()
            if code is not None:
                ended.append((slot, code))
        unclaimed = finished + running < n_trials
        for slot in self.slots:
            stopped = bool(slot.exit_codes) and slot.exit_codes[-1] != 0
            if slot.process is None and finished < n_trials and (stopped or unclaimed):
                slot.start(self.env, self.cwd)
        if finished < n_trials and self.all_ended():  # a dead worker's trial is still RUNNING: reap it
            self.launcher.start(self.env, self.cwd)
        return ended

    def victim(self, pid: int) -> Slot | None:
        """The live slot running `pid` that the chaos has not signalled yet."""
        return next((s for s in self.slots if s.alive and s.process is not None and s.process.pid == pid
                     and s.signalled is None), None)

    def all_ended(self) -> bool:
        return not any(slot.alive for slot in self.slots)

    def stop(self) -> None:
        for slot in self.slots:
            if slot.alive and slot.process is not None:
                slot.process.send_signal(signal.SIGTERM)
        for slot in self.slots:
            if slot.process is not None:
                try:
                    slot.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    slot.process.kill()
