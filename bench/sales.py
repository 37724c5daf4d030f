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
    #        tills, sales per till per mode, member pool, batches, sales per batch
    "smoke": dict(tills=2, per_till=4, members=50, batches=1, batch_size=10),
    "full": dict(tills=16, per_till=10, members=20_000, batches=1, batch_size=1000),
}


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
    with Server(backend.config(url), backend.workdir) as server:
        for name, path, token in modes:  # warm up every path (imports, caches, pools)
            _tills(server, path, token, f"warm-{name[:3]}", 2, 3, skus, cfg["members"], 1)
        for round_no in range(2):  # two interleaved rounds: a noisy minute hits every mode
            for name, path, token in modes:
                server.stats(reset=True)
                rate, lat, failed = _tills(server, path, token, f"r{round_no}-{name[:3]}", cfg["tills"], cfg["per_till"],
                                   skus, cfg["members"], seed=round_no)
                stats = server.stats()
                entry = measured.setdefault(name, {"rates": [], "lat": [], "statements": 0, "sales": 0, "failed": 0})
                entry["failed"] += failed
                entry["rates"].append(rate)
                entry["lat"].extend(lat)
                entry["statements"] += stats["statements"]
                entry["sales"] += len(lat)
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
                     "sales": entry["sales"], "failed": entry["failed"]}
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
        rates = {}
        for name, path, token in batch_modes:
            server.stats(reset=True)
            elapsed = 0.0
            for b in range(cfg["batches"]):
                body = {"sales": [data.sale_body(i, skus, cfg["members"], rnd, f"batch-{name[:9]}-{b}")
                                  for i in range(cfg["batch_size"])]}
                start = time.perf_counter()
                _post(server, path, token, body)
                elapsed += time.perf_counter() - start
            sales = cfg["batches"] * cfg["batch_size"]
            rates[name] = (sales / elapsed, elapsed / cfg["batches"], server.stats()["statements"] / sales)
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
