"""The sale facts name customers: exported with the person, gone with an erasure, and folded
into the kept profile on a merge (the customer figures then equal a recomputation)."""

from __future__ import annotations

from tests.plugins.staff_kpi.test_rollup import compare


def facts_of(kpi, customer_id):
    import sqlalchemy as sa

    from core.extensions import db
    from plugins.staff_kpi.models import SaleFact

    with kpi.app.app_context():
        return [(f.staff_id, f.first_ever, f.next_at is not None) for f in db.session.scalars(
            sa.select(SaleFact).where(SaleFact.customer_id == customer_id).order_by(SaleFact.occurred_at))]


def test_sale_facts_follow_export_merge_and_erasure(kpi):
    t, manager = kpi.till, kpi.chain.manager_token
    a, b = t.customer("13700000001"), t.customer("13700000002")
    alice, boss = kpi.chain.ids["alice"], kpi.chain.ids["manager"]
    t.sell("alice", "2026-10-05 10:00", [("LATTE-M", 1, "28.00")], a)
    t.sell("manager", "2026-10-03 10:00", [("LATTE-M", 1, "28.00")], b)  # B bought first
    assert facts_of(kpi, a) == [(alice, 1, False)]

    doc = kpi.api.get(f"/customers/{a}/export", token=manager).json
    assert [(f["first_purchase"], f["next_sale_at"]) for f in doc["plugins"]["staff_kpi"]["sale_facts"]] == [(True, None)]

    r = kpi.api.post(f"/customers/{a}/merge", {"merge_id": b}, token=manager)
    assert r.status_code == 200, r.json
    # one person now: B's sale on the 3rd is the first purchase, and A's sale is its repurchase
    assert facts_of(kpi, a) == [(boss, 1, True), (alice, 0, False)]
    assert facts_of(kpi, b) == []
    served = compare(kpi)
    assert any(fig.get("store", {}).get("customers_served") == 1 for fig in served)

    assert kpi.api.delete(f"/customers/{a}", token=manager).status_code == 200
    assert facts_of(kpi, a) == []
    compare(kpi)
