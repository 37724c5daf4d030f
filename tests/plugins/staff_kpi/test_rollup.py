"""The daily roll-up and the sale facts, kept by the reactions to sales and refunds, equal a
recomputation from scratch of the sales and refunds, whatever sales and refunds happen (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.staff_kpi.conftest import backdate_refund

SKUS = ["LATTE-M", "CAKE-CHOC", "BEANS-1KG", "GIFT-BOX"]
sale_strategy = st.tuples(
    st.sampled_from(["alice", "manager", None]),
    st.integers(min_value=0, max_value=60),  # day offset from 2026-09-25
    st.integers(min_value=0, max_value=23),  # local hour: crosses UTC midnight
    st.lists(st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=3)), min_size=1, max_size=3),
    st.sampled_from([None, "all", "one"]),  # refund nothing, everything, or one unit of the first line
    st.sampled_from([None, 0, 1, 2]),  # no customer, or one of three
)
PHONES = itertools.count(13900000000)


def compare(kpi):
    from core.extensions import db
    from core.models import Store
    from plugins.staff_kpi.services.figures import customer_figures, customer_figures_from_ledger, from_ledger, from_rollup
    from plugins.staff_kpi.services.periods import period_for

    seen = []
    with kpi.app.app_context():
        store = db.session.get(Store, kpi.chain.ids["sh"])
        for first, last in [(date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 9, 20), date(2026, 12, 31)),
                            (date(2026, 10, 15), date(2026, 10, 15))]:
            period = period_for(store.tz, first, last)
            for attribution in ("refund_period", "sale_period"):
                assert from_rollup(db.session, store, period, attribution) == from_ledger(db.session, store, period, attribution)
            for window in (7, 30):
                kept = customer_figures(db.session, store, period, window)
                assert kept == customer_figures_from_ledger(db.session, store, period, window)
                seen.append(kept)
    return seen


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sales=st.lists(sale_strategy, min_size=1, max_size=5))
def test_rollup_equals_recomputation_after_random_sales_and_refunds(kpi, sales):
    from datetime import timedelta

    customers = [kpi.till.customer(str(next(PHONES))) for _ in range(3)]
    for staff, day, hour, lines, refund, who in sales:
        when = (date(2026, 9, 25) + timedelta(days=day)).isoformat() + f" {hour:02d}:30"
        sale = kpi.till.sell(staff, when, [(sku, qty, None) for sku, qty in lines],
                             customer=None if who is None else customers[who])
        if refund == "all":
            kpi.till.refund(sale["id"])
        elif refund == "one":
            kpi.till.refund(sale["id"], [(lines[0][0], 1)])
    compare(kpi)


def test_a_backdated_refund_and_a_rebuild_keep_them_equal(kpi):
    sale = kpi.till.sell("alice", "2026-10-31 23:59", [("LATTE-M", 3, "28.00")])
    refund = kpi.till.refund(sale["id"], [("LATTE-M", 1)])
    backdate_refund(kpi.app, refund["id"], "2026-11-01 00:01")
    compare(kpi)


def test_check_finds_a_damaged_rollup_and_rebuild_and_the_nightly_job_mend_it(kpi):
    from datetime import datetime

    from core.extensions import db
    from plugins.staff_kpi import jobs
    from plugins.staff_kpi.models import DailyFigure, SaleFact
    from tests.plugins.staff_kpi.conftest import SHANGHAI

    regular = kpi.till.customer("13700000001")
    kpi.till.sell("alice", "2026-10-05 10:00", [("LATTE-M", 2, "28.00")], customer=regular)
    kpi.till.sell("manager", "2026-10-09 10:00", [("LATTE-M", 1, "28.00")], customer=regular)
    today = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    kpi.till.sell("alice", today, [("CAKE-CHOC", 1, "35.00")])
    runner = kpi.app.test_cli_runner()
    check = ["staff_kpi", "check", "--store", "SH001", "--from", "2026-10-01", "--to", "2026-12-31"]
    assert runner.invoke(args=check).output.strip() == "SH001: same"

    def damage(*models):
        with kpi.app.app_context():
            for model in models:
                db.session.query(model).delete()
            db.session.commit()

    damage(SaleFact)  # the sales figures are intact; the customer figures are not
    result = runner.invoke(args=check)
    assert result.exit_code == 1 and "DIFFERENT" in result.output
    assert runner.invoke(args=["staff_kpi", "rebuild", "--store", "SH001"]).exit_code == 0
    assert runner.invoke(args=check).exit_code == 0

    damage(DailyFigure, SaleFact)
    result = runner.invoke(args=check)
    assert result.exit_code == 1 and "DIFFERENT" in result.output
    result = runner.invoke(args=["staff_kpi", "rebuild", "--store", "SH001"])
    assert result.exit_code == 0 and result.output.startswith("SH001: 2026-10-05 – ")
    assert runner.invoke(args=check).exit_code == 0
    damage(DailyFigure, SaleFact)
    with kpi.app.app_context():
        assert jobs.refresh_rollups() == 1  # the last 3 days: today's sale is back, October's is not
    assert runner.invoke(args=check).exit_code == 1
    assert runner.invoke(args=["staff_kpi", "rebuild", "--store", "XX9"]).output.endswith("unknown store code: XX9\n")


def test_a_delivery_batch_rewrites_each_day_once_and_equals_the_recomputation(make_app):
    """Reactions delivered in one batch (a busy till, or the outbox catching up) share the
    roll-up: one rewrite per (kind, local day) and one of the customers' facts, whatever the
    number of sales, with the same figures as a recomputation."""
    import socket

    from sqlalchemy import event

    from core.delivery import deliver
    from core.extensions import db
    from tests.plugins.staff_kpi.conftest import build_kpi

    with socket.socket() as probe:  # a Redis nobody answers: the reactions stay pending
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    kpi = build_kpi(make_app, REDIS_URL=f"redis://127.0.0.1:{dead}/0")
    customers = [kpi.till.customer(str(next(PHONES))) for _ in range(3)]
    sold = []
    for i in range(12):  # four salespeople's sales on two local days, three customers
        staff = ["alice", "manager", None][i % 3]
        sold.append(kpi.till.sell(staff, f"2026-10-{5 + i % 2:02d} {9 + i}:15", [("LATTE-M", 1 + i % 2, None)],
                                  customer=customers[i % 3]))
    kpi.till.refund(sold[0]["id"])
    kpi.till.refund(sold[1]["id"], [("LATTE-M", 1)])
    statements = []
    delivering = make_app(plugins=[])
    with delivering.app_context():
        def note(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert deliver() == {"done": 2 * 14}  # 12 sales and 2 refunds: staff_kpi's and the classes' reactions
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
    daily = [s for s in statements if s.lstrip().upper().startswith("DELETE FROM STAFF_KPI_DAILY")]
    facts = [s for s in statements if s.lstrip().upper().startswith("DELETE FROM STAFF_KPI_SALE_FACT")]
    # sales on 10-05 and 10-06; the refunds happened today (refund day) of sales on 10-05 and 10-06
    assert len(daily) == 2 + 1 + 2
    assert len(facts) == 1
    compare(kpi)
