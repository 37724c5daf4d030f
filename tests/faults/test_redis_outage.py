"""Redis stopped while tills keep selling: every sale is recorded, no till waits on Redis, and
the jobs the sales enqueued run once Redis is back (each exactly once)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, JobOutbox, Sale
from tests.conftest import build_chain, enable
from tests.faults.conftest import at_once, post, wait_for

TILLS = 4
PER_TILL = 3


def sell(url, token, prefix):
    """Each till posts its sales one after another; all tills at once."""
    def till(t):
        return lambda: [post(url, token, {"external_id": f"{prefix}-{t}-{n}", "customer": {"phone": f"1380013{t:04d}"},
                                          "lines": [{"sku": "LATTE-M", "quantity": 1}]}, timeout=30)
                        for n in range(PER_TILL)]
    started = time.perf_counter()
    results = at_once([till(t) for t in range(TILLS)])
    return [answer for per_till in results for answer in per_till], time.perf_counter() - started


def noted(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(AuditLog.target_id).where(AuditLog.action == "fault_job")).all()


def test_tills_keep_selling_while_redis_is_down_and_the_jobs_run_when_it_is_back(fault_app, processes, durable_redis):
    app = fault_app
    chain = build_chain(app)
    enable(app, "SH001", "faultplug")
    procs = processes(app)
    url = procs.server(FAULTPLUG_MODE="enqueue") + "/api/v1/sales"

    before, _ = sell(url, chain.till, "up")
    assert [s for s, _ in before] == [201] * TILLS * PER_TILL, before
    queue = app.extensions["storecrm.jobs"].queue()
    # waiting for a worker, in Redis; and one drain of the outbox (the buyers' classes, after the commit)
    assert queue.count == TILLS * PER_TILL + 1

    durable_redis.stop()
    during, seconds = sell(url, chain.till, "down")
    assert [s for s, _ in during] == [201] * TILLS * PER_TILL, during
    assert seconds < 30, f"tills waited {seconds:.1f}s on a Redis that is down"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 2 * TILLS * PER_TILL
        parked = db.session.scalars(select(JobOutbox.args)).all()
        assert sorted(a[0] for a in parked) == sorted(f"down-{t}-{n}" for t in range(TILLS) for n in range(PER_TILL))
    assert noted(app) == []

    durable_redis.restart()
    worker = procs.worker()
    expected = sorted([f"up-{t}-{n}" for t in range(TILLS) for n in range(PER_TILL)]
                      + [f"down-{t}-{n}" for t in range(TILLS) for n in range(PER_TILL)])
    wait_for(lambda: len(noted(app)) >= len(expected), timeout=90, message="the jobs to run after Redis came back")
    time.sleep(1)  # a doubled job would land now
    procs.stop(worker)
    assert sorted(noted(app)) == expected  # every job ran, none twice
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobOutbox)) == 0
