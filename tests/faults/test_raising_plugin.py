"""A plugin that raises during `sale_recorded`: the sale is kept, the delivery fails visibly,
and it succeeds on retry exactly once, even when two workers retry it at the same moment."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Activity, EventDelivery, Sale, utcnow
from tests.conftest import build_chain, enable
from tests.faults.conftest import at_once, post


def _retry_in_a_process(config, barrier, out):
    import os

    os.environ["FAULTPLUG_MODE"] = "ok"  # the loyalty server is back
    from core.app import create_app
    from core.events import retry_due_deliveries
    from tests.faults import faultplug

    app = create_app(config, plugins=[faultplug.manifest])
    with app.app_context():
        barrier.wait()
        out.put(retry_due_deliveries())


def faultplug_activities(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Activity).where(Activity.source == "faultplug"))


def test_a_raising_plugin_keeps_the_sale_fails_visibly_and_is_retried_once(fault_app, processes):
    app = fault_app
    chain = build_chain(app)
    enable(app, "SH001", "faultplug")
    procs = processes(app)
    url = procs.server(FAULTPLUG_MODE="raise") + "/api/v1/sales"

    answers = at_once([lambda i=i: post(url, chain.till, {"external_id": f"raise-{i}", "customer": {"phone": "13800138000"},
                                                          "lines": [{"sku": "LATTE-M", "quantity": 1}]})
                       for i in range(4)])
    assert [status for status, _ in answers] == [201] * 4, answers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 4  # every sale kept
        deliveries = db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == "faultplug")).all()
        assert [(d.status, d.attempts) for d in deliveries] == [("failed", 1)] * 4
        assert all("the loyalty server is down" in d.last_error for d in deliveries)
        assert all(d.next_attempt_at > utcnow() for d in deliveries)  # backoff before the retry
    assert faultplug_activities(app) == 0  # what the plugin wrote before raising was rolled back

    # The backoff has passed; two workers pick the retries up at the same moment.
    with app.app_context():
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    config = {k: app.config[k] for k in ("TESTING", "SECRET_KEY", "DATA_KEY", "DATABASE_URL", "INSTANCE_PATH",
                                         "PLUGINS", "PLUGINS_STRICT", "LOCALE")}
    config["REDIS_URL"] = None
    workers = [ctx.Process(target=_retry_in_a_process, args=(config, barrier, out)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    counts = [out.get(timeout=5), out.get(timeout=5)]
    # each worker either ran a retry, found it done by the other, or skipped it while locked
    assert all(set(c) <= {"done", "locked"} for c in counts), counts

    assert faultplug_activities(app) == 4  # once per sale, not once per worker
    with app.app_context():
        rows = db.session.execute(select(EventDelivery.status, EventDelivery.attempts)
                                  .where(EventDelivery.plugin == "faultplug")).all()
        assert sorted(rows) == [("done", 2)] * 4
    # A later retry run finds nothing to do.
    with app.app_context():
        from core.events import retry_due_deliveries

        assert retry_due_deliveries() == {}
    assert faultplug_activities(app) == 4
