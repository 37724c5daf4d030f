"""The real nightly reclassification (`core.classification.jobs.nightly_recompute`) on an rq
worker killed with kill -9 in the middle, on PostgreSQL with enough data that the job runs for
seconds: the job is requeued and, restarted, finishes; every class equals a clean recompute of
the same data, each class change reaches the timeline once, and each scope keeps one set of cuts.

Why it holds: the job commits one transaction per batch of scopes (the chain, then stores that
share settings). Killed mid-batch, that batch's class rows, timeline activities and cuts roll
back together; run again, the committed batches find nothing changed (no activity: only changed
rows write one) and the rolled-back batch is done once."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Text, func, select

from core.extensions import db
from core.models import Activity, utcnow
from tests.conftest import build_chain
from tests.faults.conftest import requeue_abandoned, wait_for

CUSTOMERS = 12_000
SALES = 60_000  # one nightly run takes about 10 s here: room to kill it mid-way


def load(app, base, stores: list[int]) -> tuple[int, int]:
    """Customers and ticket-total sales written in bulk (COPY). Every sale is at base - 12 h -
    whole days, so whole-day recencies do not move while the test runs (under 12 hours)."""
    from bench.data import bulk_customers, bulk_insert, customer_id_range

    rnd = random.Random(11)
    with app.app_context():
        conn = db.session.connection()
        bulk_customers(conn, CUSTOMERS, stores[0])
        lo, hi = customer_id_range(db.session)
        naive = base.replace(tzinfo=None)

        def rows():
            for _ in range(SALES):
                customer = lo + int((hi - lo) * rnd.random() ** 2)  # a few heavy buyers, a long tail
                total = Decimal(rnd.randint(800, 60000)) / 100
                at = naive - timedelta(hours=12, days=rnd.randint(0, 540))
                yield (rnd.choice(stores), customer, at, "store", "completed", total, Decimal("0.00"), total,
                       Decimal("0.00"), at)

        bulk_insert(conn, "sale", ["store_id", "customer_id", "occurred_at", "channel", "status", "subtotal",
                                   "adjustment_total", "total", "refunded_total", "created_at"], rows())
        db.session.commit()
        conn = db.session.connection()
        conn.exec_driver_sql("ANALYZE")
        db.session.commit()
        return lo, hi


def more_sales(app, base, stores: list[int], lo: int, hi: int) -> None:
    """A busy month for some customers, so the next nightly run changes classes."""
    from bench.data import bulk_insert

    rnd = random.Random(12)
    naive = base.replace(tzinfo=None)
    with app.app_context():
        rows = [(rnd.choice(stores), c, naive - timedelta(hours=12, days=d), "store", "completed", Decimal("300.00"),
                 Decimal("0.00"), Decimal("300.00"), Decimal("0.00"), naive - timedelta(hours=12, days=d))
                for c in rnd.sample(range(lo, hi + 1), 1500) for d in range(1, 6)]
        bulk_insert(db.session.connection(), "sale", ["store_id", "customer_id", "occurred_at", "channel", "status",
                                                      "subtotal", "adjustment_total", "total", "refunded_total",
                                                      "created_at"], rows)
        db.session.commit()


def read(session) -> tuple[dict, Counter, dict]:
    """(class rows without computed_at, class-change activities counted, cut rows per scope)."""
    from core.classification.compute import COLUMNS
    from core.classification.models import ClassificationCut, CustomerClass

    cc = CustomerClass.__table__
    classes = {(r.customer_id, r.scope_id): tuple(r)
               for r in session.execute(select(*[cc.c[n] for n in COLUMNS if n != "computed_at"]))}
    changes = Counter(session.execute(select(Activity.customer_id, Activity.store_id, Activity.title,
                                             func.cast(Activity.data, Text))
                                      .where(Activity.kind == "class_change")).all())
    cuts = dict(session.execute(select(ClassificationCut.scope_id, func.count()).group_by(ClassificationCut.scope_id)).all())
    return classes, changes, cuts


def snapshot(app) -> tuple[dict, Counter, dict]:
    with app.app_context():
        found = read(db.session)
        db.session.rollback()
        return found


def expected(app) -> tuple[dict, Counter, dict]:
    """What one clean, uninterrupted run makes of the same data (rolled back afterwards)."""
    from core.classification.compute import recompute_all

    with app.app_context():
        recompute_all(db.session, commit=False)
        found = read(db.session)
        db.session.rollback()
        return found


def run_time(app, scope_id: int):
    from core.classification.models import ClassificationRun

    with app.app_context():
        found = db.session.scalar(select(ClassificationRun.computed_at).where(ClassificationRun.scope_id == scope_id))
        db.session.rollback()
        return found


def test_the_nightly_recompute_killed_mid_run_finishes_after_a_restart_without_doubling(fault_app, processes):
    from core.classification.jobs import nightly_recompute
    from core.classification.models import CHAIN_SCOPE
    from core.classification.settings import save_settings

    app = fault_app
    chain = build_chain(app)
    sh, bj = chain.ids["sh"], chain.ids["bj"]
    base = utcnow()
    with app.app_context():
        # Different settings: the job runs three batches (chain, SH001, BJ001), each committed.
        save_settings(db.session, bj, {"window_days": 300})
        db.session.commit()
    lo, hi = load(app, base, [sh, bj])
    with app.app_context():
        from core.classification.compute import recompute_all

        recompute_all(db.session)  # last night's run: classes to change from
    more_sales(app, base, [sh, bj], lo, hi)
    want = expected(app)
    assert sum(want[1].values()) > 300, "the run must change classes for the timeline test to mean anything"

    queue = app.extensions["storecrm.jobs"]
    before = {scope: run_time(app, scope) for scope in (CHAIN_SCOPE, sh, bj)}
    with app.app_context():
        job = queue.enqueue(nightly_recompute)
    procs = processes(app)
    worker = procs.worker("--without-scheduler")
    # Kill once SH001's batch has committed and while BJ001's runs.
    wait_for(lambda: run_time(app, sh) != before[sh], timeout=300, interval=0.05, message="SH001's batch to commit")
    procs.kill9(worker)
    killed_at = snapshot(app)
    assert run_time(app, CHAIN_SCOPE) != before[CHAIN_SCOPE] and run_time(app, bj) == before[bj], \
        "the kill must land mid-job"
    assert killed_at[0] != want[0]
    # SH001's batch is complete; BJ001's class rows and timeline rolled back with its batch
    assert killed_at[1] == Counter({k: n for k, n in want[1].items() if k[1] == sh})

    requeue_abandoned(queue, job)

    worker = procs.worker()
    wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=600, message="the restarted job to finish")
    procs.stop(worker)
    classes, changes, cuts = snapshot(app)
    assert classes == want[0]  # the same classes as a clean recompute of the same data
    assert changes == want[1]  # each class change on the timeline once: none doubled, none lost
    assert set(changes.values()) == {1}
    assert cuts == want[2] == {CHAIN_SCOPE: 1, sh: 1, bj: 1}  # one set of cuts per scope
