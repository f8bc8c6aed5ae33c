"""Chaos soak (issue 22): a 4-worker sweep on PostgreSQL with the team MLflow server (basic
auth on) while a chaos loop kills workers mid-trial with SIGKILL and SIGTERM and starts them
again, crashes and restarts PostgreSQL once and restarts the MLflow server once. At the end it
checks that nothing was lost or doubled (scripts/soak/checks.py) and prints the survival table.

    python scripts/chaos_soak.py [kills=20] [n_trials=30] [workers=4] [seed=0] [report=FILE]
    (make soak; make test-slow runs a short setting)

Everything is throwaway and on loopback: a private PostgreSQL cluster on a free port (the
machine's own server is never touched), `scripts/services.sh` for the MLflow server, trials of
a smoke-sized TREC classifier. Exit 0 when every check passes and the kill target was met."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState
from soak.checks import Check, run_checks
from soak.fleet import Fleet
from soak.postgres import PostgresMissing, PrivatePostgres

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "scripts" / "services.sh"
DEFAULTS = {"kills": 20, "n_trials": 30, "workers": 4, "seed": 0, "interval": 6.0, "outage": 5.0,
            "timeout": 1800.0, "report": ""}
# each trial: a smoke-sized TREC classifier (3 epochs of 3 batches), so kills, not training, fill the time
TINY = ["task=classification", "model.embedding_dim=8", "trainer.max_epochs=3", "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=1", "trainer.enable_model_summary=false",
        "callbacks.progress_bar.refresh_rate=0"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(argv: list[str]) -> dict[str, object]:
    options: dict[str, object] = dict(DEFAULTS)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in DEFAULTS:
            sys.exit(f"error: unknown argument {arg!r}; use key=value with key one of {', '.join(DEFAULTS)}")
        try:
            options[key] = type(DEFAULTS[key])(value)
        except ValueError:
            sys.exit(f"error: {key}={value!r} is not a {type(DEFAULTS[key]).__name__}")
    if int(options["workers"]) < 2 or int(options["n_trials"]) < 1 or int(options["kills"]) < 0:
        sys.exit("error: workers >= 2, n_trials >= 1 and kills >= 0")
    return options


@dataclass
class Events:
    """What the chaos did, for the survival table."""

    kills: dict[str, int] = field(default_factory=lambda: {"SIGKILL": 0, "SIGTERM": 0})
    outages: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def note(self, start: float, text: str) -> None:
        line = f"[chaos {time.time() - start:6.1f}s] {text}"
        self.log.append(line)
        print(line, flush=True)


class Services:
    """scripts/services.sh (what `make services` runs) against the private cluster."""

    def __init__(self, pg_url: str, folder: Path, password: str) -> None:
        self.env = {**os.environ, "ZOO_PG_URL": pg_url, "ZOO_SERVICES_PORT": str(free_port()),
                    "ZOO_SERVICES_WORKERS": "2", "ZOO_ARTIFACT_ROOT": str(folder / "artifacts"),
                    "ZOO_SERVICES_DIR": str(folder / "services"), "ZOO_PYTHON": sys.executable,
                    "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": password}
        self.uri = f"http://127.0.0.1:{self.env['ZOO_SERVICES_PORT']}"

    def _script(self, action: str) -> str:
        done = subprocess.run(["bash", str(SERVICES), action], env=self.env, capture_output=True, text=True,
                              timeout=240)
        if done.returncode:
            raise RuntimeError(f"services.sh {action} failed: {(done.stdout + done.stderr).strip()[-1500:]}")
        return done.stdout

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


def study_state(storage: optuna.storages.BaseStorage, study_name: str) -> tuple[int, list[str]] | None:
    """(finished trials, workers of RUNNING trials), or None while the database is away."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
    except Exception:  # noqa: BLE001 - PostgreSQL restarting, or the study not made yet
        return None
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return done, [str(t.user_attrs.get("worker", "")) for t in trials if t.state == TrialState.RUNNING]


def parent_made(storage: optuna.storages.BaseStorage, study_name: str) -> bool:
    try:
        return "mlflow_parent_run_id" in optuna.load_study(study_name=study_name, storage=storage).user_attrs
    except Exception:  # noqa: BLE001 - no study yet
        return False


def main(argv: list[str]) -> int:
    options = parse(argv)
    n_trials, kills, workers = int(options["n_trials"]), int(options["kills"]), int(options["workers"])
    rng = random.Random(int(options["seed"]))
    folder = Path(tempfile.mkdtemp(prefix="zoo-soak-"))
    try:
        pg = PrivatePostgres(free_port())
    except PostgresMissing as err:
        print(f"error: {err}; the soak needs its own PostgreSQL cluster", file=sys.stderr)
        return 2
    password = secrets.token_urlsafe(18)
    services = Services(pg.url, folder, password)
    study_name = f"soak-{uuid.uuid4().hex[:8]}"
    storage_url = f"{pg.url}/zoo_optuna"
    login = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}
    os.environ.update(login)  # the checks' own MLflow client logs in too
    env = {**os.environ, "MLFLOW_TRACKING_URI": services.uri, "ZOO_OPTUNA_STORAGE": storage_url,
           "ZOO_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    recipe = [f"paths.log_dir={folder / 'runs'}", f"paths.cache_dir={folder / 'cache'}", *TINY]
    if os.environ.get("ZOO_DATA_DIR"):
        recipe.insert(0, f"paths.data_dir={os.environ['ZOO_DATA_DIR']}")
    base = [sys.executable, "-m", "zoo.sweep", "sweep=classification_trec", f"study_name={study_name}",
            f"n_trials={n_trials}", "debug=smoke", "register=true", "confirm=false",
            # a killed worker's trial never spends max_failures, but one that meets the PostgreSQL
            # restart fails on its own error; the soak's checks judge the outcome instead
            "max_failures=1000",
            "recipe=[" + ",".join(recipe) + "]"]
    fleet = Fleet(base, workers, folder / "logs", env, ROOT)
    events, passed = Events(), False
    start = time.time()
    try:
        pg.create()
        pg.start()
        services.start()
        print(f"soak: {workers} workers, n_trials={n_trials}, {kills} kills planned; PostgreSQL {pg.url}, "
              f"MLflow {services.uri} (basic auth); logs in {folder / 'logs'}", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(storage_url, engine_kwargs={"pool_pre_ping": True})
        fleet.start([fleet.launcher])
        while not parent_made(storage, study_name):  # workers join the parent run the launcher makes
            if not fleet.launcher.alive:
                raise RuntimeError(f"the launcher exited before making its parent run; see {fleet.launcher.log}")
            time.sleep(1)
        fleet.start(fleet.slots[1:])
        restarts = {"PostgreSQL": kills // 3, "MLflow server": 2 * kills // 3}  # after so many kills
        next_kill = time.time() + rng.uniform(0.5, 1.5) * float(options["interval"])
        done, running = 0, []
        while time.time() - start < float(options["timeout"]):
            state = study_state(storage, study_name)
            if state is not None:
                done, running = state
            for slot, code in fleet.keep_alive(done, len(running), n_trials):
                events.note(start, f"slot {slot.index} ended with {code}" + ("; started again" if slot.alive else ""))
            if done >= n_trials and fleet.all_ended():
                break
            if sum(len(slot.crashes) for slot in fleet.slots) > 20:
                print("error: the workers keep crashing; see their logs", file=sys.stderr)
                return 1
            total_kills = sum(events.kills.values())
            for what, at in restarts.items():
                if what not in events.outages and total_kills >= at and state is not None and running:
                    events.outages[what] = outage(what, pg, services, float(options["outage"]), events, start)
            if total_kills < kills and time.time() >= next_kill and state is not None:
                victims = [fleet.victim(int(w.rpartition(":")[2])) for w in running if w.rpartition(":")[2].isdigit()]
                victims = [v for v in victims if v is not None]
                if victims:
                    victim, signum = rng.choice(victims), rng.choice([signal.SIGKILL, signal.SIGTERM])
                    victim.send(signum)
                    events.kills[signum.name] += 1
                    events.note(start, f"{signum.name} to slot {victim.index} (pid {victim.process.pid}) mid-trial; "
                                       f"{done}/{n_trials} finished")
                    next_kill = time.time() + rng.uniform(0.5, 1.5) * float(options["interval"])
            time.sleep(0.5)
        else:
            print(f"error: the soak did not finish within timeout={options['timeout']} s", file=sys.stderr)
            return 1
        # the launcher reports and registers once the budget is spent; a launcher that ended while
        # other workers still held the last trials said "rerun the command to continue": do so
        fleet.start([fleet.launcher])
        fleet.launcher.process.wait(timeout=600)
        wall = time.time() - start
        checks = run_checks(storage_url, study_name, services.uri, n_trials, fleet.launcher.log.read_text())
        crashes = [f"slot {slot.index} {crash}" for slot in fleet.slots for crash in slot.crashes]
        checks.append(Check("no process crashed", not crashes,
                            "; ".join(crashes[:4]) + " (see logs/)" if crashes else "every exit explained by a kill"))
        report = survival_table(events, checks, storage, study_name, fleet, kills, wall)
        print(report, flush=True)
        if options["report"]:
            Path(str(options["report"])).write_text(report + "\n")
        met = sum(events.kills.values()) >= kills and len(events.outages) == 2
        if not met:
            print(f"error: the chaos fell short of its plan ({sum(events.kills.values())} of {kills} kills, "
                  f"{len(events.outages)} of 2 restarts): raise n_trials or lower interval", file=sys.stderr)
        passed = met and all(c.ok for c in checks)
        return 0 if passed else 1
    finally:
        fleet.stop()
        try:
            services.stop()
        except RuntimeError as err:
            print(f"warning: {err}", file=sys.stderr)
        pg.remove()
        if passed and os.environ.get("ZOO_SOAK_KEEP") != "1":
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder} (the workers' logs are in logs/)", file=sys.stderr)


def outage(what: str, pg: PrivatePostgres, services: Services, seconds: float, events: Events, start: float) -> float:
    """Take PostgreSQL (a crash: immediate stop) or the MLflow server down for `seconds`, then
    start it again; returns the time it was unreachable."""
    down = time.time()
    events.note(start, f"{what} down ({'crash' if what == 'PostgreSQL' else 'stop'})")
    if what == "PostgreSQL":
        pg.stop("immediate")
        time.sleep(seconds)
        pg.start()
    else:
        services.stop()
        time.sleep(seconds)
        services.start()
    events.note(start, f"{what} back after {time.time() - down:.1f} s")
    return time.time() - down


def survival_table(events: Events, checks: list, storage: optuna.storages.BaseStorage, study_name: str,
                   fleet: Fleet, kills_planned: int, wall: float) -> str:
    trials = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    failed = [t for t in trials if t.state == TrialState.FAIL and "zoo.surplus" not in t.user_attrs]
    surplus = sum(1 for t in trials if "zoo.surplus" in t.user_attrs)
    lost = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in failed
               if t.datetime_complete and t.datetime_start)
    count = {s: sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED)}
    rows = [
        ("kills", f"{sum(events.kills.values())} (SIGKILL {events.kills['SIGKILL']}, SIGTERM "
                  f"{events.kills['SIGTERM']}; {kills_planned} planned)"),
        ("restarts", ", ".join(f"{k} down {v:.1f} s" for k, v in events.outages.items()) or "none"),
        ("process starts", ", ".join(f"slot {s.index}: {s.starts}" for s in fleet.slots)
         + f"; {sum(len(s.refusals) for s in fleet.slots)} refused to start while a server was down "
           "(one `error:` line, exit 2, started again)"),
        ("trials", f"{count[TrialState.COMPLETE]} complete, {count[TrialState.PRUNED]} pruned, {len(failed)} failed "
                   f"(killed or lost with their worker), {surplus} surplus "
                   f"(asked for after the budget was taken), {len(trials)} in all"),
        ("time lost", f"{lost:.0f} s of trial time in failed trials; soak wall time {wall:.0f} s"),
    ]
    lines = ["| survival | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    lines += ["", "| check | result | detail |", "|---|---|---|"]
    lines += [f"| {c.name} | {'ok' if c.ok else 'FAILED'} | {c.detail} |" for c in checks]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
