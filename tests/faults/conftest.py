"""Fault tests run real processes against PostgreSQL: `storecrm run` servers, `storecrm worker`
workers, a Redis that is stopped and started again, tills posting over HTTP at once.

The fault plugin reaches those processes as an installed plugin would: through an entry point
declared in a dist-info directory put on their PYTHONPATH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import BUNDLED, _missing, postgres_copy
from tests.services import RedisServer, _wait_port, free_port

ROOT = Path(__file__).resolve().parents[2]
STORECRM = str(Path(sys.executable).with_name("storecrm"))


@pytest.fixture(params=["postgresql"])
def database_url(request, templates, postgres):
    """Real processes sharing one database at once: PostgreSQL (SQLite allows one writer).
    A fresh copy of the migrated template, as in tests/conftest.py."""
    if postgres is None:
        _missing("PostgreSQL")
    with postgres_copy(postgres, templates, "f") as url:
        yield url


class DurableRedis(RedisServer):
    """A Redis that keeps its data across a restart (append-only file), as a production Redis
    holding a job queue must."""

    def _args(self):
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--dir", self.dir]

    def start(self) -> str:
        import tempfile

        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="storecrm-redis-faults-")
        return self.restart() or self.url

    def restart(self) -> None:
        self.proc = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait_port(self.port):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop the server and keep its folder: the append-only file is what a restart reads."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def remove(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def durable_redis():
    server = DurableRedis()
    if not server.available:
        pytest.skip("redis-server is not installed")
    server.start()
    yield server
    server.remove()


@pytest.fixture
def plugin_site(tmp_path):
    dist = tmp_path / "site" / "storecrm_faultplug-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: storecrm-faultplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[storecrm.plugins]\nfaultplug = tests.faults.faultplug:manifest\n")
    return dist.parent


class Processes:
    """Starts and stops the real processes of one test; kills whatever is left at the end."""

    def __init__(self, app, site: Path, workdir: Path):
        self.app = app
        self.site = site
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra) -> dict:
        cfg = self.app.config
        env = {
            **os.environ,
            "STORECRM_DATABASE_URL": cfg["DATABASE_URL"],
            "STORECRM_DATA_KEY": cfg["DATA_KEY"],
            "STORECRM_SECRET_KEY": cfg["SECRET_KEY"],
            "STORECRM_PLUGINS": ",".join([*BUNDLED, "faultplug"]),
            "STORECRM_PLUGINS_STRICT": "1",
            "STORECRM_QUEUE": cfg.get("QUEUE_NAME", "storecrm"),
            "STORECRM_INSTANCE_PATH": cfg["INSTANCE_PATH"],
            "STORECRM_LOCALE": "en",
            "PYTHONPATH": os.pathsep.join([str(self.site), str(ROOT)]),
            "STORECRM_ENV_FILE": "/nonexistent",
        }
        if cfg.get("REDIS_URL"):
            env["STORECRM_REDIS_URL"] = cfg["REDIS_URL"]
        else:
            env.pop("STORECRM_REDIS_URL", None)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def _start(self, args, env, name) -> subprocess.Popen:
        log = open(self.workdir / f"{name}-{len(self.procs)}.log", "w")
        # Own session: kill -9 reaches the worker and the work-horse it forked.
        proc = subprocess.Popen([STORECRM, *args], env=env, cwd=str(self.site), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def server(self, **env) -> str:
        port = free_port()
        proc = self._start(["run", "--port", str(port)], self.env(**env), "server")
        if not _wait_port(port, timeout=60):
            raise AssertionError("storecrm run did not start:\n" + self.log(proc))
        return f"http://127.0.0.1:{port}"

    def servers(self, count: int, **env) -> list[str]:
        """`count` servers started at once (their start-up overlaps), once all listen."""
        ports = [free_port() for _ in range(count)]
        procs = [self._start(["run", "--port", str(port)], self.env(**env), "server") for port in ports]
        for port, proc in zip(ports, procs):
            if not _wait_port(port, timeout=60):
                raise AssertionError("storecrm run did not start:\n" + self.log(proc))
        return [f"http://127.0.0.1:{port}" for port in ports]

    def worker(self, *args, **env) -> subprocess.Popen:
        return self._start(["worker", *args], self.env(**env), "worker")

    def run(self, *args, timeout=120, **env) -> subprocess.CompletedProcess:
        result = subprocess.run([STORECRM, *args], env=self.env(**env), cwd=str(self.site), capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result

    @staticmethod
    def log(proc) -> str:
        try:
            return Path(proc.log_path).read_text()[-4000:]
        except OSError:
            return ""

    @staticmethod
    def kill9(proc) -> None:
        """Kill -9 the process, its group and every descendant, as a machine dying would. rq's
        work-horse moves to a process group of its own (os.setpgrp), so the group alone would
        leave it running the job."""
        family = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in family), timeout=10, message="the work-horse to die")

    def stop(self, proc) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9(proc)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)


@pytest.fixture
def processes(plugin_site, tmp_path):
    made = []

    def factory(app):
        procs = Processes(app, plugin_site, tmp_path)
        made.append(procs)
        return procs

    yield factory
    for procs in made:
        procs.close()


@pytest.fixture
def fault_app(make_app, durable_redis):
    """The app the test inspects the database with: same database, Redis and plugins as the
    processes it starts, on a queue of its own."""
    from tests.faults import faultplug

    return make_app(plugins=[faultplug.manifest], REDIS_URL=durable_redis.url, QUEUE_NAME=f"faults-{uuid.uuid4().hex[:8]}")


def descendants(pid: int) -> list[int]:
    """The pids below `pid` in the process tree (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state": the ppid
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def requeue_abandoned(queue, job) -> None:
    """What rq does, in time, with a job whose worker was killed: the heartbeat lapses (about a
    minute), the started registry's cleanup finds the job abandoned and, since it has retries
    left, schedules the retry (10 s on); rq's scheduler then enqueues it, once a live worker holds
    the scheduler lock the dead one left behind (at `storecrm worker --maintenance-interval`,
    30 s). For real that takes ~105 s after the kill (measured, notes-H); the test moves the clock
    for each step, to keep the fault suite short, and checks the job went the retry's way."""
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    started = StartedJobRegistry(queue=queue.queue())
    assert job.id in started.get_job_ids(cleanup=False)
    started.cleanup(timestamp=time.time() + 3600)
    assert job.id not in started.get_job_ids(cleanup=False)
    scheduled = ScheduledJobRegistry(queue=queue.queue())
    assert job.id in scheduled.get_job_ids(), job.get_status(refresh=True)  # a retry, not a failure
    scheduled.requeue(job)
    assert job.get_status(refresh=True) == "queued"


def post(url: str, token: str, body: dict, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def at_once(calls) -> list:
    """Run the zero-argument `calls` in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")
