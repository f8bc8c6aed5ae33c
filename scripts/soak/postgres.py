"""A private PostgreSQL cluster on a free loopback port, so that the soak can crash and restart
the database under a sweep without touching the machine's own server (which CI and other
sessions use). Built with the server's own tools: initdb, pg_ctl."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


class PostgresMissing(RuntimeError):
    """initdb/pg_ctl are not installed, or there is no user to run them as."""


def bin_dir() -> Path:
    """Where initdb and pg_ctl live: PATH first, then Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresMissing("PostgreSQL's initdb and pg_ctl are not installed (apt install postgresql)")


class PrivatePostgres:
    """initdb into a throwaway folder, then start / crash / stop it. PostgreSQL refuses to run
    as root, so as root the cluster belongs to the `postgres` user."""

    def __init__(self, port: int) -> None:
        self.port, self.bin = port, bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="zoo-soak-pg-"))
        self.data, self.log = self.folder / "data", self.folder / "postgres.log"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresMissing("running as root and there is no `postgres` user to run PostgreSQL as") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _tool(self, name: str, *args: str) -> None:
        done = subprocess.run([*self.run_as, str(self.bin / name), *args], capture_output=True, text=True,
                              timeout=120)
        if done.returncode:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise RuntimeError(f"{name} {' '.join(args[:2])} failed: " + " | ".join(tail))

    def create(self) -> None:
        self._tool("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c max_connections=200")
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: no checkpoint, every connection cut, recovery on the next start."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)
