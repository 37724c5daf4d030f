"""Sale ingest over real HTTP (16 tills at once) and offline batch sync, each against the
floor endpoint (bench/floor.py) on the same server, database and run."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time

from bench import data
from bench.measure import Result, Server, percentile, rate_ratio

SIZES = {
    #        tills, sales per till per mode, member pool, batches, sales per batch, seconds at the steady load
    "smoke": dict(tills=2, per_till=4, members=50, batches=1, batch_size=10, steady_seconds=3),
    "full": dict(tills=16, per_till=40, members=20_000, batches=1, batch_size=1000, steady_seconds=60),
}
STEADY_TILLS = 16
STEADY_RATE = 8.0  # sales per second from all tills together: a busy chain's afternoon


def prepare(backend) -> tuple[dict, str]:
    """A fresh database with the bench chain and a pool of existing members."""
    from core.app import create_app
    from core.extensions import db

    url = backend.fresh_database("sales")
    app = create_app(backend.config(url))
    with app.app_context():
        seeded = data.seed_chain(db.session)
        with db.engine.begin() as conn:
            data.bulk_customers(conn, 2_000, seeded["stores"]["BENCH_NONE"])
        db.session.remove()
        db.engine.dispose()
    return seeded, url


class Till(threading.Thread):
    """One till: a keep-alive connection posting its sales one after another."""

    def __init__(self, port, path, token, bodies, barrier):
        super().__init__(daemon=True)
        self.port, self.path, self.token, self.bodies, self.barrier = port, path, token, bodies, barrier
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.barrier.wait()
        for body in self.bodies:
            payload = json.dumps(body)
            start = time.perf_counter()
            try:
                conn.request("POST", self.path, payload, headers)
                resp = conn.getresponse()
                answer = resp.read()
            except OSError as exc:  # a till that gave up waiting: counted as a failed sale
                self.latencies.append(time.perf_counter() - start)
                self.errors.append(f"no answer: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                continue
            self.latencies.append(time.perf_counter() - start)
            if resp.status not in (200, 201):
                self.errors.append(f"{resp.status} {answer[:300]!r}")
        conn.close()


def _tills(server, path, token, prefix, n_tills, per_till, skus, members, seed):
    rnd = random.Random(seed)
    barrier = threading.Barrier(n_tills + 1)
    tills = [Till(server.port, path, token,
                  [data.sale_body(i, skus, members, rnd, f"{prefix}-{t}") for i in range(per_till)], barrier)
             for t in range(n_tills)]
    for till in tills:
        till.start()
    barrier.wait()
    start = time.perf_counter()
    for till in tills:
        till.join()
    elapsed = time.perf_counter() - start
    errors = [e for t in tills for e in t.errors]
    if errors:  # reported, not hidden: a failed sale is the worst result a till can get
        print(f"{len(errors)} sales failed on {path}, e.g. {errors[0]}", flush=True)
    latencies = [x for t in tills for x in t.latencies]
    return (len(latencies) - len(errors)) / elapsed, latencies, len(errors)


class SteadyTill(Till):
    """A till selling at a fixed pace: one sale every `interval` seconds from `start`."""

    def __init__(self, port, path, token, bodies, barrier, start_delay, interval):
        super().__init__(port, path, token, bodies, barrier)
        self.start_delay, self.interval = start_delay, interval

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.barrier.wait()
        t0 = time.perf_counter() + self.start_delay
        for n, body in enumerate(self.bodies):
            time.sleep(max(0.0, t0 + n * self.interval - time.perf_counter()))
            start = time.perf_counter()
            conn.request("POST", self.path, json.dumps(body), headers)
            resp = conn.getresponse()
            answer = resp.read()
            self.latencies.append(time.perf_counter() - start)
            if resp.status not in (200, 201):
                self.errors.append(f"{resp.status} {answer[:300]!r}")
        conn.close()


def _steady(server, path, token, prefix, seconds, skus, members) -> list[float]:
    """16 tills together at STEADY_RATE sales/s for `seconds`, staggered evenly; latencies."""
    rnd = random.Random(5)
    interval = STEADY_TILLS / STEADY_RATE
    per_till = max(1, int(seconds / interval))
    barrier = threading.Barrier(STEADY_TILLS + 1)
    tills = [SteadyTill(server.port, path, token,
                        [data.sale_body(i, skus, members, rnd, f"{prefix}-{t}") for i in range(per_till)], barrier,
                        start_delay=t * interval / STEADY_TILLS, interval=interval)
             for t in range(STEADY_TILLS)]
    for till in tills:
        till.start()
    barrier.wait()
    for till in tills:
        till.join()
    errors = [e for t in tills for e in t.errors]
    if errors:
        print(f"{len(errors)} steady sales failed on {path}, e.g. {errors[0]}", flush=True)
    return [x for t in tills for x in t.latencies]


class Worker:
    """A `storecrm worker` (rq) beside the server on a Redis run: it delivers the reactions after
    the commit, on the same machine, as a shop runs it."""

    def __init__(self, config: dict):
        self.config, self.proc = config, None

    def __enter__(self):
        import os
        import subprocess
        import sys
        from pathlib import Path

        if not self.config.get("REDIS_URL"):
            return self
        env = {**os.environ, "STORECRM_DATABASE_URL": self.config["DATABASE_URL"],
               "STORECRM_REDIS_URL": self.config["REDIS_URL"], "STORECRM_DATA_KEY": self.config["DATA_KEY"],
               "STORECRM_SECRET_KEY": self.config["SECRET_KEY"], "STORECRM_QUEUE": self.config["QUEUE_NAME"],
               "STORECRM_INSTANCE_PATH": self.config["INSTANCE_PATH"]}
        env.pop("STORECRM_PLUGINS", None)
        storecrm = str(Path(sys.executable).with_name("storecrm"))
        self.proc = subprocess.Popen([storecrm, "worker"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except Exception:  # noqa: BLE001 - a stuck worker must not hang the benchmark
                self.proc.kill()


def drained_after(url: str, timeout: float = 120.0) -> float | None:
    """Seconds until no reaction after the commit is pending (None: not within `timeout`)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            with engine.connect() as conn:
                if not conn.execute(sa.text("SELECT count(*) FROM event_delivery WHERE status = 'pending'")).scalar():
                    return round(time.perf_counter() - start, 1)
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def _post(server, path, token, body):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    conn.close()
    if resp.status != 200 or any(r["status"] not in (200, 201) for r in answer["results"]):
        raise RuntimeError(f"batch failed on {path}: {str(answer)[:300]}")


def run(backend, size: str = "full") -> list[Result]:
    cfg = SIZES[size]
    seeded, url = prepare(backend)
    tokens, skus = seeded["tokens"], seeded["skus"]
    modes = [
        ("all plugins", "/api/v1/sales", tokens["BENCH_ALL"]),
        ("no plugins", "/api/v1/sales", tokens["BENCH_NONE"]),
        ("floor (Core, one transaction)", "/bench/floor/sales", tokens["BENCH_FLOOR"]),
    ]
    n_plugins = len(seeded["plugins"])
    results: list[Result] = []
    measured = {}
    # 16 tills share one store's token: its limit (600 a minute) raised, the limiter still run.
    config = backend.config(url, QUEUE_NAME=f"bench-{random.randrange(10 ** 9)}", API_RATE_LIMIT="100000 per minute")
    with Server(config, backend.workdir) as server, Worker(config):
        for name, path, token in modes:  # warm up every path (imports, caches, pools)
            _tills(server, path, token, f"warm-{name[:3]}", 2, 3, skus, cfg["members"], 1)
        steady = {}
        for name, path, token in modes:  # p99 at a steady load, each mode on its own
            lat = _steady(server, path, token, f"steady-{name[:3]}", cfg["steady_seconds"], skus, cfg["members"])
            steady[name] = (round(percentile(lat, 50) * 1000, 1), round(percentile(lat, 99) * 1000, 1))
            drained_after(url, timeout=600)
        for round_no in range(2):  # two interleaved rounds: a noisy minute hits every mode
            for name, path, token in modes:
                server.stats(reset=True)
                rate, lat, failed = _tills(server, path, token, f"r{round_no}-{name[:3]}", cfg["tills"], cfg["per_till"],
                                   skus, cfg["members"], seed=round_no)
                stats = server.stats()
                # Reactions still pending are delivered before the next mode is timed: they must
                # not slow the floor down, and how long they took counts in the sustained rate.
                drain = drained_after(url, timeout=600) or 0.0
                entry = measured.setdefault(name, {"rates": [], "lat": [], "statements": 0, "sales": 0, "failed": 0,
                                                   "sustained": []})
                entry["failed"] += failed
                entry["rates"].append(rate)
                entry["sustained"].append(len(lat) / (len(lat) / rate + drain) if rate else 0.0)
                entry["lat"].extend(lat)
                entry["statements"] += stats["statements"]
                entry["sales"] += len(lat)
        drain_seconds = drained_after(url)
        peak = server.stats()["maxrss_mb"]
        floor_name = modes[2][0]
        floor_rate = sum(measured[floor_name]["rates"]) / 2
        none_rate = sum(measured["no plugins"]["rates"]) / 2
        for name, _, _ in modes:
            entry = measured[name]
            rate = sum(entry["rates"]) / 2
            extra = {"p50_ms": round(percentile(entry["lat"], 50) * 1000, 1),
                     "p99_ms": round(percentile(entry["lat"], 99) * 1000, 1),
                     "sql_per_sale": round(entry["statements"] / entry["sales"], 1), "tills": cfg["tills"],
                     "sales": entry["sales"], "failed": entry["failed"],
                     f"steady_{STEADY_RATE:g}_per_s_p50_ms": steady[name][0],
                     f"steady_{STEADY_RATE:g}_per_s_p99_ms": steady[name][1]}
            if name != floor_name:
                # reactions after the commit: a process of the server without Redis, the rq worker with it
                extra["after_commit"] = "rq worker" if config.get("REDIS_URL") else "server delivery process"
                extra["all_delivered_after_s"] = drain_seconds
                # the rate counting the time until the last reaction was delivered too
                sustained = sum(entry["sustained"]) / 2
                extra["sustained_sales_s"] = round(sustained, 1)
                extra["sustained_ratio"] = rate_ratio(sustained, floor_rate)
            if name == "all plugins":
                extra["plugins"] = n_plugins
                extra["vs_no_plugins"] = rate_ratio(rate, none_rate)
            results.append(Result("sale ingest", backend.name, name, round(rate, 1), "sales/s",
                                  None if name == floor_name else floor_name, round(floor_rate, 1),
                                  rate_ratio(rate, floor_rate), peak, extra))

        batch_modes = [
            ("batch, all plugins", "/api/v1/sales/batch", tokens["BENCH_ALL"]),
            ("batch, no plugins", "/api/v1/sales/batch", tokens["BENCH_NONE"]),
            ("batch floor (Core, one transaction)", "/bench/floor/sales/batch", tokens["BENCH_FLOOR"]),
        ]
        rnd = random.Random(11)
        totals = {name: {"elapsed": 0.0, "statements": 0, "sales": 0, "requests": 0} for name, _, _ in batch_modes}
        for round_no in range(2):  # two interleaved rounds, as for the sales
            for name, path, token in batch_modes:
                total = totals[name]
                for b in range(cfg["batches"]):
                    body = {"sales": [data.sale_body(i, skus, cfg["members"], rnd, f"batch-{name[:9]}-{round_no}-{b}")
                                      for i in range(cfg["batch_size"])]}
                    server.stats(reset=True)
                    start = time.perf_counter()
                    _post(server, path, token, body)
                    total["elapsed"] += time.perf_counter() - start
                    total["statements"] += server.stats()["statements"]
                    total["sales"] += cfg["batch_size"]
                    total["requests"] += 1
                # As between the sale modes: this batch's reactions after the commit are delivered
                # before the next batch is timed, so they do not slow it (nor the floor) down.
                drained_after(url, timeout=600)
        rates = {name: (t["sales"] / t["elapsed"], t["elapsed"] / t["requests"], t["statements"] / t["sales"])
                 for name, t in totals.items()}
        peak = server.stats()["maxrss_mb"]
        floor_name = batch_modes[2][0]
        for name, _, _ in batch_modes:
            rate, per_request, sql = rates[name]
            results.append(Result("offline sync", backend.name, name, round(rate, 1), "sales/s",
                                  None if name == floor_name else floor_name, round(rates[floor_name][0], 1),
                                  rate_ratio(rate, rates[floor_name][0]), peak,
                                  {"seconds_per_request": round(per_request, 2), "sales_per_request": cfg["batch_size"],
                                   "sql_per_sale": round(sql, 1)}))
    return results
