"""Run the benchmarks: `python -m bench` (full sizes, SQLite and PostgreSQL + Redis).

    python -m bench                          # everything, both backends, full sizes
    python -m bench --size smoke             # tiny sizes (what tests/test_bench_smoke.py runs)
    python -m bench --backend sqlite --only sales,lookup
    python -m bench --markdown docs/performance-run.md

Each benchmark runs in its own child process (its peak memory is its own) and prints its
figure, its floor measured in the same run and the ratio between them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone

from bench.env import open_backend
from bench.measure import Result, in_child

BENCHMARKS = {
    "sales": "bench.sales.run",  # sale ingest (16 tills) and offline batch sync
    "classification": "bench.classification.run",
    "lookup": "bench.lookup.run",
    "imports": "bench.imports.run",
    "campaigns": "bench.campaigns.run",  # campaign sending: 100,000 recipients, two rq workers
}


def run_one(key: str, backend, size: str) -> list[Result]:
    """One benchmark in a child process; its peak memory is added where it did not report one."""
    raw, peak = in_child("bench.__main__.child_entry", key, backend_spec(backend), size)
    results = [Result(**r) for r in raw]
    for r in results:
        if r.peak_mb is None:
            r.peak_mb = peak
    return results


def backend_spec(backend) -> dict:
    return {"name": backend.name, "workdir": backend.workdir, "redis_url": backend.redis_url,
            "data_key": backend.data_key, "pg_template": backend.pg_url("{db}") if backend.pg_url else None}


def child_entry(key: str, spec: dict, size: str) -> list[dict]:
    import importlib

    from bench.env import Backend

    template = spec.pop("pg_template")
    backend = Backend(spec["name"], spec["workdir"], redis_url=spec["redis_url"], data_key=spec["data_key"],
                      pg_url=(lambda db: template.replace("{db}", db)) if template else None)
    module, _, func = BENCHMARKS[key].rpartition(".")
    return [r.as_dict() for r in getattr(importlib.import_module(module), func)(backend, size)]


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/meminfo") as fh:
            mem = int(fh.readline().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def format_result(r: Result) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in r.extra.items())
    floor = f" | floor {r.floor_value} ({r.floor_variant}) | ratio ×{r.ratio}" if r.floor_variant else ""
    return f"[{r.backend}] {r.benchmark}: {r.variant}: {r.value} {r.unit}{floor} | peak {r.peak_mb} MB | {extra}"


def markdown(results: list[Result], command: str, started: datetime, seconds: float) -> str:
    lines = [f"Run {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min, on {machine()}.", "",
             f"Command: `{command}`", "",
             "| backend | benchmark | variant | figure | floor | ratio (× floor's cost) | peak MB | details |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        floor = f"{r.floor_value} {r.unit}" if r.floor_variant else "—"
        ratio = f"×{r.ratio}" if r.ratio is not None and r.floor_variant else "(floor)"
        details = ", ".join(f"{k} {v}" for k, v in r.extra.items())
        lines.append(f"| {r.backend} | {r.benchmark} | {r.variant} | {r.value} {r.unit} | {floor} | {ratio} | "
                     f"{r.peak_mb} | {details} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--size", choices=["smoke", "full"], default="full")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma list of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--markdown", help="also write the results as a markdown table to this file")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers it started on the way out
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    results: list[Result] = []
    for name in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        backend = open_backend(name)
        try:
            for key in keys:
                print(f"--- {name}: {key} ({args.size})", flush=True)
                for r in run_one(key, backend, args.size):
                    print(format_result(r), flush=True)
                    results.append(r)
        finally:
            backend.close()
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(markdown(results, command.strip(), started, time.perf_counter() - t0))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.as_dict() for r in results], fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
