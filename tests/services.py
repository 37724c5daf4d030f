"""Real Redis and PostgreSQL servers for the test session, started on loopback in a
temporary directory when their binaries are installed (scripts/test installs them)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import queue
import tempfile
import threading
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 30) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class RedisServer:
    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.proc = None
        self.port = None

    @property
    def available(self) -> bool:
        return self.binary is not None

    def start(self) -> str:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="storecrm-redis-")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not _wait_port(self.port):
            raise RuntimeError("redis-server did not start")
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        """Start again on the same port (fault tests stop Redis while tills keep selling)."""
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)


def _pg_bindir() -> str | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PostgresServer:
    """A throwaway cluster. As root, it runs as the `postgres` system user (initdb refuses root)."""

    def __init__(self):
        self.bindir = _pg_bindir()
        self.port = None
        self.datadir = None
        self._admin = None  # an AUTOCOMMIT engine on the `postgres` database, made at first use
        self._to_drop: queue.Queue = queue.Queue()
        self._dropper: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.bindir is not None

    def _run_as(self):
        if os.geteuid() == 0:
            # By absolute path: a clean shell's PATH often lacks /usr/sbin (or /sbin).
            runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/usr/sbin/runuser"
            return [runuser, "-u", "postgres", "--"]
        return []

    def start(self) -> str:
        self.port = free_port()
        base = tempfile.mkdtemp(prefix="storecrm-pg-")
        os.chmod(base, 0o777)
        self.datadir = os.path.join(base, "data")
        prefix = self._run_as()
        subprocess.run(prefix + [f"{self.bindir}/initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust",
                                 "-E", "UTF8", "--no-locale"], check=True, stdout=subprocess.DEVNULL)
        opts = (f"-p {self.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c max_connections=200")
        subprocess.run(prefix + [f"{self.bindir}/pg_ctl", "-D", self.datadir, "-o", opts, "-l",
                                 os.path.join(base, "log"), "-w", "start"], check=True, stdout=subprocess.DEVNULL)
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str) -> None:
        with self._engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_database_soon(self, name: str) -> None:
        """Drop `name` (its connections closed by force) in a thread of this process: PostgreSQL
        checkpoints on every DROP DATABASE, a third of a second the next test need not wait for."""
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_queued, name="pg-dropper", daemon=True)
            self._dropper.start()
        self._to_drop.put(name)

    def _drop_queued(self) -> None:
        while True:
            name = self._to_drop.get()
            if name is None:
                return
            try:
                with self._engine().connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - a database left behind goes with the cluster
                print(f"could not drop test database {name}: {exc}")

    def _engine(self):
        import sqlalchemy as sa

        if self._admin is None:
            self._admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", pool_size=2)
        return self._admin

    def stop(self) -> None:
        if self._dropper is not None:
            self._to_drop.put(None)
            self._dropper.join(60)
        if self._admin is not None:
            self._admin.dispose()
        if self.datadir:
            subprocess.run(self._run_as() + [f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(os.path.dirname(self.datadir), ignore_errors=True)  # data, socket and log
