"""A private, throwaway PostgreSQL server for tests that stop or restart PostgreSQL.

Restarting the machine's shared server (127.0.0.1:5432) would cut the connections of every other
test run on it, so fault tests get a cluster of their own: ``initdb`` in a temporary folder, a free
port on 127.0.0.1, no Unix socket, trust authentication, no fsync (data only has to survive a
clean restart). As root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from support.servers import free_port


def _bindir() -> Path:
    """The folder with initdb and pg_ctl (pg_config's, else the newest Debian install)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent
    raise RuntimeError("PostgreSQL's initdb was not found; install the PostgreSQL server")


class PrivatePostgres:
    """A PostgreSQL server of the test's own: ``start()``, ``stop()``, ``restart()``, ``url()``."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="shopbot-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip
        settings = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 200\nshared_buffers = 32MB\n"
        )
        self._run("sh", "-c", f"cat >> '{self.data / 'postgresql.conf'}' <<'EOF'\n{settings}EOF")

    def _run(self, program: str, *args: str) -> None:
        exe = str(self.bindir / program) if (self.bindir / program).exists() else program
        cmd = [exe, *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.wait_ready()

    def stop(self) -> None:
        """Stops the server at once (fast shutdown: open connections are cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        # -l again: without it the new postmaster would write to (and hold open) our pipe.
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60",
            "restart",
        )  # fmt: skip
        self.wait_ready()

    def is_ready(self) -> bool:
        try:
            psycopg2.connect(self.url(), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on port {self.port} did not come up; {self.log}")
            time.sleep(0.2)

    def create_database(self, name: str) -> str:
        """The URL of a new, empty database ``name``."""
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _admin(self, *statements: str) -> None:
        conn = psycopg2.connect(self.url(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def refuse_connections(self, database: str) -> None:
        """Makes one database unreachable (open connections cut, new ones refused) while the
        server and its other databases go on working."""
        self._admin(
            f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
        )

    def accept_connections(self, database: str) -> None:
        self._admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    def destroy(self) -> None:
        """Stops the server (if running) and deletes its files."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)
