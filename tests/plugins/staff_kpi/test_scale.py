"""A year-long report of a 50-person store answers in under a second (PostgreSQL).

The history (50 people, 365 days, ~110,000 sales with lines, 3,000 customers) is written with
bulk INSERTs, then the roll-up is rebuilt once, as `storecrm staff_kpi rebuild` does."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

PEOPLE, DAYS, SALES_PER_PERSON_DAY, CUSTOMERS = 50, 365, 6, 3000


def build_history(app):
    """Written by PostgreSQL itself (generate_series): deterministic, and seconds, not minutes."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.models import Customer, Store, User

    with app.app_context():
        store = db.session.scalars(sa.select(Store).where(Store.code == "SH001")).one()
        db.session.add_all([User(username=f"clerk{i:02d}", role="staff", display_name=f"Clerk {i}", stores=[store],
                                 password_hash="x") for i in range(PEOPLE)])
        db.session.execute(sa.insert(Customer), [{"name": f"c{i}", "home_store_id": store.id} for i in range(CUSTOMERS)])
        first_customer = db.session.scalar(sa.select(sa.func.min(Customer.id)))
        db.session.execute(sa.text(
            "INSERT INTO sale (store_id, staff_id, customer_id, occurred_at, channel, status, subtotal, adjustment_total,"
            " total, refunded_total, created_at, updated_at) "
            "SELECT :store, u.id, CASE WHEN (d * 7 + n * 3 + u.id) % 10 < 7"
            "  THEN :c0 + (d * 131 + n * 17 + u.id * 7) % :customers END,"
            " timestamp '2025-09-30 17:00' + d * interval '1 day' + (n * 97 + (d + u.id) % 60) * interval '1 minute',"
            " 'store', 'completed', p.t, 0, p.t, 0, now(), now() "
            "FROM generate_series(0, :days - 1) d, generate_series(0, :per_day - 1) n,"
            " (SELECT id FROM user_account WHERE username LIKE 'clerk%') u,"
            " LATERAL (SELECT (ARRAY[28.00, 35.00, 63.00, 1200.00])[1 + (d + n + u.id) % 4]::numeric(12, 2) AS t) p"),
            {"store": store.id, "c0": first_customer, "customers": CUSTOMERS, "days": DAYS, "per_day": SALES_PER_PERSON_DAY})
        db.session.execute(sa.text(
            "INSERT INTO sale_line (sale_id, position, sku, name, quantity, unit_price, discount, amount, "
            "allocated_adjustment, refunded_quantity, full_price, unit_cost) "
            "SELECT id, 0, 'X', 'x', 1, total, 0, total, 0, 0, true, round(total * 0.4, 2) FROM sale"))
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))  # as autovacuum would soon after such an import
        return store.id


@pytest.mark.skipif(not os.environ.get("STORECRM_SCALE"),
                    reason="set STORECRM_SCALE=1 (or =parts for a timing per part) to build the 110,000-sale history")
def test_a_year_of_a_50_person_store_reports_in_under_a_second(app, chain):
    from core.extensions import db
    from core.models import Store
    from core.plugins import HookContext
    from plugins.staff_kpi.services import report, rollup
    from plugins.staff_kpi.services.figures import from_ledger, from_rollup
    from plugins.staff_kpi.services.periods import period_for
    from tests.conftest import enable

    enable(app, "SH001", "staff_kpi")
    store_id = build_history(app)
    with app.app_context():
        store = db.session.get(Store, store_id)
        began = time.perf_counter()
        rollup.rebuild_history(db.session, store, date(2026, 9, 30))
        db.session.commit()
        rebuild_seconds = time.perf_counter() - began
        period = period_for(store.tz, date(2025, 10, 1), date(2026, 9, 30))
        ctx = HookContext(session=db.session, store=store, actor="bench", registry=app.extensions["storecrm.plugins"],
                          plugin="staff_kpi")
        if os.environ.get("STORECRM_SCALE") == "parts":
            from plugins.staff_kpi.services import figures, sale_facts

            for label, call in [("sale facts rewritten", lambda: sale_facts.rewrite(db.session, store.id)),("rollup", lambda: figures.from_rollup(db.session, store, period, "refund_period")),
                                ("customers", lambda: figures.customer_figures(db.session, store, period, 30)),
                                ("profiles", lambda: figures.profiles_created(db.session, store, period)),
                                ("customers again", lambda: figures.customer_figures(db.session, store, period, 30))]:
                began = time.perf_counter()
                call()
                print(f"\n{label}: {time.perf_counter() - began:.3f}s")
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            doc = report.build(ctx, store, period)
            timings.append(time.perf_counter() - began)
        assert len([r for r in doc["rows"] if r["sales_count"]]) == PEOPLE
        assert doc["totals"]["sales_count"] == PEOPLE * DAYS * SALES_PER_PERSON_DAY
        assert from_rollup(db.session, store, period, "refund_period") == from_ledger(db.session, store, period, "refund_period")
        print(f"\nrebuild {rebuild_seconds:.2f}s; year report {min(timings):.3f}s best, {max(timings):.3f}s worst")
        assert min(timings) < 1.0, timings
