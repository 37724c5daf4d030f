"""Tills racing each other across two real server processes (`storecrm run`) on PostgreSQL:
20 tills selling to one member at the same instant keep the points exact and the member's
classes equal to a full recompute; tills paying with the same points at once cannot overdraw
them; one external_id posted by many tills at once is one sale, and its plugins react to it once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer, Event, EventDelivery, Sale
from tests.conftest import BUNDLED, build_chain, enable
from tests.faults.conftest import at_once, post

TILLS = 20


def count(app, stmt) -> int:
    with app.app_context():
        return db.session.scalar(stmt)


def classes_of(app, customer_id: int, recompute: bool = False) -> dict[int, dict]:
    """The customer's stored class rows per scope (the till keeps them after each sale), or,
    with `recompute`, what the nightly full recompute makes of the same data (rolled back)."""
    from core.classification.compute import COLUMNS, recompute_all
    from core.classification.models import CustomerClass

    with app.app_context():
        if recompute:
            recompute_all(db.session, commit=False)
        rows = db.session.scalars(select(CustomerClass).where(CustomerClass.customer_id == customer_id)).all()
        found = {r.scope_id: {c: getattr(r, c) for c in COLUMNS if c != "computed_at"} for r in rows}
        db.session.rollback()
        return found


@pytest.fixture
def two_servers(fault_app, processes):
    app = fault_app
    chain = build_chain(app)
    enable(app, "SH001", *BUNDLED)
    procs = processes(app)
    servers = [procs.server(), procs.server()]
    return app, chain, [s + "/api/v1/sales" for s in servers], procs


@pytest.mark.skipif("membership" not in BUNDLED, reason="the membership plugin is not installed")
def test_twenty_tills_selling_to_one_member_at_once_keep_the_points_exact(two_servers):
    app, chain, urls, procs = two_servers
    status, first = post(urls[0], chain.till, {"external_id": "join", "customer": {"phone": "13700137000"},
                                                "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "1.00"}]})
    assert status == 201, first
    member = first["customer_id"]

    def sale(n):
        return lambda: post(urls[n % 2], chain.till, {
            "external_id": f"c-{n}", "customer": {"id": member},
            "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}]})

    answers = at_once([sale(n) for n in range(TILLS)])
    assert sorted(status for status, _ in answers) == [201] * TILLS, answers
    # ¥1 + ¥100 × 20 (seed 000's tiers): the sale that reaches ¥1,000 makes the member and earns
    # on itself; each one after it earns 100 points. Exactly once each, whatever the interleaving.
    earned = [a["effects"]["membership"]["points_earned"] for _, a in answers]
    assert sum(earned) == 1100, earned
    assert sum(a["effects"]["membership"]["upgraded"] for _, a in answers) == 1
    with app.app_context():
        from plugins.membership.models import Member, PointsEntry

        row = db.session.get(Member, member)
        assert row.points_balance == 1100
        assert db.session.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == member)) == 1100
        assert str(row.lifetime_spend) == "2001.00"
    # Each sale re-classifies the member after its commit: the servers queued the outbox's drain;
    # a worker delivers the 21 sales' reactions in order, so no update was lost and the stored
    # numbers and classes are what a full recompute gives.
    assert classes_of(app, member) == {}  # nothing classified inside the tills' transactions
    procs.run("worker", "--burst")
    stored = classes_of(app, member)
    assert set(stored) == {0, chain.ids["sh"]}, stored  # the chain and the store
    for scope in stored.values():
        assert (scope["purchases_ever"], scope["purchases"], str(scope["amount"])) == (21, 21, "2001.00")
    assert stored == classes_of(app, member, recompute=True)


@pytest.mark.skipif("membership" not in BUNDLED, reason="the membership plugin is not installed")
def test_tills_paying_with_the_same_points_at_once_cannot_overdraw_them(two_servers):
    app, chain, urls, procs = two_servers
    status, first = post(urls[0], chain.till, {"external_id": "earn", "customer": {"phone": "13700137001"},
                                                "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "1500.00"}]})
    assert status == 201, first
    member, balance = first["customer_id"], first["effects"]["membership"]["balance"]
    assert balance == 1500  # ¥15 in points

    def spend_all(n):  # every till applies the same quote: the whole balance as payment
        return lambda: post(urls[n % 2], chain.till, {
            "external_id": f"p-{n}", "customer": {"id": member},
            "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}],
            "payments": [{"method": "points", "amount": "15.00", "data": {"points": 1500}},
                         {"method": "cash", "amount": "85.00"}]})

    answers = at_once([spend_all(n) for n in range(TILLS)])
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [422] * (TILLS - 1), answers
    won = next(a for status, a in answers if status == 201)
    assert won["effects"]["membership"]["points_redeemed"] == 1500
    refused = [a["error"] for status, a in answers if status == 422]
    assert all(e["fields"]["payments"] == [f"The sale uses 1500 points; the balance is {e['balance']} points."]
               and e["balance"] < 1500 for e in refused), refused
    with app.app_context():
        from plugins.membership.models import Member, PointsEntry

        assert db.session.scalar(select(func.count()).select_from(Sale)) == 2  # the refused wrote nothing
        row = db.session.get(Member, member)
        ledger = db.session.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == member))
        assert row.points_balance == ledger == 85  # 1,500 - 1,500 redeemed + 85 earned on the cash


def test_one_external_id_from_many_tills_at_once_is_one_sale_reacted_to_once(two_servers):
    app, chain, urls, procs = two_servers
    body = {"external_id": "till-7-000042", "customer": {"phone": "13900139000"},
            "lines": [{"sku": "CAKE-CHOC", "quantity": 2}], "payments": [{"method": "cash", "amount": "70.00"}]}
    answers = at_once([lambda n=n: post(urls[n % 2], chain.till, body) for n in range(12)])
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 11 + [201], answers
    assert len({a["id"] for _, a in answers}) == 1
    assert count(app, select(func.count()).select_from(Sale)) == 1
    assert count(app, select(func.count()).select_from(Customer)) == 1
    assert count(app, select(func.count()).select_from(Event).where(Event.name == "sale_recorded")) == 1
    # every enabled plugin that reacts to sales did so once, for that one event
    with app.app_context():
        rows = db.session.execute(select(EventDelivery.plugin, func.count()).group_by(EventDelivery.plugin)).all()
    assert all(n == 1 for _, n in rows), rows
