"""Measuring: results with their floor and ratio, percentiles, peak memory of a child
process, SQL statement counts, and the benchmark server as a context manager."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import traceback
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from sqlalchemy import event


@dataclass
class Result:
    """One figure and its floor from the same run. `ratio` is how many times the floor's cost
    the measured path costs (time ÷ floor time, or floor rate ÷ rate): 1.0 is the floor."""

    benchmark: str
    backend: str
    variant: str
    value: float
    unit: str
    floor_variant: str | None = None
    floor_value: float | None = None
    ratio: float | None = None
    peak_mb: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def rate_ratio(rate: float, floor_rate: float) -> float | None:
    return round(floor_rate / rate, 2) if rate and floor_rate else None


def time_ratio(seconds: float, floor_seconds: float) -> float | None:
    return round(seconds / floor_seconds, 2) if floor_seconds else None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timer():
    box = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


@contextmanager
def count_statements(engine):
    """Count the SQL statements sent to the database inside the block (executemany is one):
    `count`, their first lines (`statements`, for a readable failure), their text (`sql`) and
    which database connection sent each (`connections`: 0 for the first one seen, 1 for the
    next...; reactions delivered after the commit run on a connection of their own)."""
    box = {"count": 0, "statements": [], "sql": [], "connections": []}
    seen: dict[int, int] = {}

    def listener(conn, cursor, statement, parameters, context, executemany):
        box["count"] += 1
        box["statements"].append(statement.split("\n")[0][:120])
        box["sql"].append(statement)
        box["connections"].append(seen.setdefault(id(conn.connection.dbapi_connection), len(seen)))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield box
    finally:
        event.remove(engine, "before_cursor_execute", listener)


# --- isolation: one child process per measurement, so its peak memory is its own -----------------

def _child(target: str, args: tuple, out):
    try:
        module, _, name = target.rpartition(".")
        import importlib

        result = getattr(importlib.import_module(module), name)(*args)
        out.put(("ok", result, self_peak_mb()))
    except BaseException:  # noqa: BLE001 - report anything to the parent
        out.put(("error", traceback.format_exc(), self_peak_mb()))


def in_child(target: str, *args, timeout: float = 3600):
    """Run `module.func(*args)` in a fresh (spawned) process; returns (result, peak MB)."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, out))
    proc.start()
    try:
        status, payload, peak = out.get(timeout=timeout)
    except BaseException:
        proc.terminate()  # interrupted: do not leave the measurement running
        raise
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    if status != "ok":
        raise RuntimeError(f"{target} failed in its child process:\n{payload}")
    return payload, round(peak, 1)


# --- the HTTP server under test -------------------------------------------------------------------

class Server:
    def __init__(self, config: dict, workdir: str):
        from tests.services import free_port

        self.port = free_port()
        self.config_path = os.path.join(workdir, f"server-{self.port}.json")
        with open(self.config_path, "w") as fh:
            json.dump(config, fh)
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.server", self.config_path, str(self.port)],
                                     cwd=root, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "ready" not in line:
            self.proc.kill()
            raise RuntimeError("the benchmark server did not start")
        return self

    def stats(self, reset: bool = False) -> dict:
        with urllib.request.urlopen(self.base + "/bench/stats" + ("?reset=1" if reset else "")) as resp:
            return json.loads(resp.read())

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
