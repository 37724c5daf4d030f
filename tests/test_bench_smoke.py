"""Every benchmark at a tiny size, so bench/ cannot rot. The figures are not judged (timings
in tests are noise); that each benchmark runs, measures its floor in the same run and gives
a ratio and a peak memory is."""

from __future__ import annotations

import importlib

import pytest

from bench.env import open_backend

BENCHMARKS = ["sales", "classification", "lookup", "imports", "campaigns"]


@pytest.fixture(params=["sqlite", "postgresql"])
def bench_backend(request, tmp_path, postgres):
    if request.param == "postgresql":
        if postgres is None:
            pytest.skip("PostgreSQL is not installed here")
        redis = request.getfixturevalue("redis_server")
        backend = open_backend("postgresql", str(tmp_path), postgres=postgres, redis=redis)
    else:
        backend = open_backend("sqlite", str(tmp_path))
    yield backend
    backend.close()


@pytest.mark.parametrize("key", BENCHMARKS)
def test_benchmark_runs_small_and_reports_its_floor_and_ratio(bench_backend, key):
    from bench.__main__ import BENCHMARKS as REGISTERED, format_result

    module, _, func = REGISTERED[key].rpartition(".")
    results = getattr(importlib.import_module(module), func)(bench_backend, "smoke")
    assert results
    floors = [r for r in results if r.floor_variant is None]
    compared = [r for r in results if r.floor_variant is not None]
    assert compared, "a benchmark without a floor proves nothing"
    for r in results:
        assert r.value > 0 and r.backend == bench_backend.name, format_result(r)
        assert r.peak_mb and r.peak_mb > 0, format_result(r)
    for r in compared:
        assert r.floor_value > 0 and r.ratio > 0, format_result(r)
    if key == "sales":
        assert {r.benchmark for r in results} == {"sale ingest", "offline sync"}
        ingest = {r.variant: r for r in results if r.benchmark == "sale ingest"}
        assert set(ingest) == {"all plugins", "no plugins", "floor (Core, one transaction)"}
        assert all(r.extra["p99_ms"] >= r.extra["p50_ms"] > 0 for r in ingest.values())
        assert all(r.extra["failed"] == 0 for r in ingest.values()), [r.extra for r in ingest.values()]
        assert len(floors) == 2


def test_markdown_report_has_every_result_with_its_floor(tmp_path):
    from bench.__main__ import markdown
    from bench.measure import Result
    from datetime import datetime, timezone

    results = [Result("counter lookup", "sqlite", "service", 0.7, "ms (p50)", "bare SELECT", 0.01, 70.0, 90.0, {"p99_ms": 1}),
               Result("counter lookup", "sqlite", "bare SELECT", 0.01, "ms (p50)", None, None, None, 90.0)]
    text = markdown(results, "python -m bench", datetime.now(timezone.utc), 60)
    assert "| sqlite | counter lookup | service | 0.7 ms (p50) | 0.01 ms (p50) | ×70.0 | 90.0 | p99_ms 1 |" in text
    assert "Command: `python -m bench`" in text
