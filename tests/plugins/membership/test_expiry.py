"""Expiry is a fact of the date (issue 21): a lot past its date counts for nothing in the
balance, the quote or a redemption whether or not the daily job ran; the job only writes the
entries and catches up after downtime; points paid for refunded goods go back to their own
lots with their own dates, and those whose lot expired meanwhile are gone, and said so."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.errors import Unprocessable
from tests.plugins.membership.conftest import ledger_sum

_phones = itertools.count(1)


def test_points_past_their_date_are_not_offered_nor_spent_before_the_job_runs(shop):
    """The issue's reproduction: points expiring 2025-12-31 still offered in 2026."""
    till = shop.till
    cid = till.customer("13900139901")
    till.sell(cid, "1000.00", occurred_at="2024-06-01T10:00:00+08:00")  # 1,000 points, expiring 2025-12-31
    till.sell(cid, "500.00")  # 500 points earned today, live
    view = till.member(cid)
    assert view["points_balance"] == 500
    assert [e["points"] for e in view["expiring"]] == [500]  # the dead lot is not "expiring": it is gone
    quote = till.quote(cid, [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}], redeem_points="max")
    assert [a["data"]["points"] for a in quote["adjustments"] if a["code"] == "points"] == [500]
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 1000}, token=shop.chain.till)
    assert r.status_code == 422 and r.json["error"]["balance"] == 500, r.json
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 500}, token=shop.chain.till)
    assert r.status_code == 201, r.json
    # The job then writes the entry for the dead lot, dated with the lot's date; nothing changes for the member.
    from core.extensions import db
    from plugins.membership.models import PointsEntry
    from plugins.membership.services import expire_points

    with shop.app.app_context():
        assert expire_points(db.session) == 1000
        entry = db.session.scalars(select(PointsEntry).where(PointsEntry.customer_id == cid,
                                                             PointsEntry.kind == "expire")).one()
        assert (entry.points, entry.expires_on) == (-1000, date(2025, 12, 31))
        assert expire_points(db.session) == 0  # a second run finds nothing
    assert till.member(cid)["points_balance"] == 0 and ledger_sum(shop.app, cid) == (0, 0)


def test_refunded_points_go_back_to_their_lots_and_an_expired_lots_are_gone(shop):
    from core.extensions import db
    from plugins.membership.models import PointsEntry

    till = shop.till
    cid = till.customer("13900139902")
    till.sell(cid, "1000.00")  # 1,000 points, expiring at the end of next year
    lines = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "20.00"}, {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "30.00"}]
    sale = till.sell(cid, lines=lines, options={"redeem_points": 1000})
    with shop.app.app_context():
        lot = db.session.scalars(select(PointsEntry).where(PointsEntry.source_key.like("earn:sale:%"),
                                                           PointsEntry.customer_id == cid).order_by(PointsEntry.id)).first()
        lot_id, lot_date = lot.id, lot.expires_on
        # the lot's date passes (the refund comes late): move it into the past
        db.session.execute(PointsEntry.__table__.update().where(PointsEntry.id == lot_id)
                           .values(expires_on=date.today() - timedelta(days=2)))
        db.session.commit()
    r = till.refund(sale["id"], [{"sku": "CAKE-CHOC", "quantity": 1}])  # 600 of the 1,000 points
    effects = r["effects"]["membership"]
    assert (effects["points_returned"], effects["points_expired"]) == (0, 600)
    assert effects["balance"] == till.member(cid)["points_balance"] == 40 - 24  # the 40 earned less the cake's 24
    ledger = shop.api.get(f"/membership/members/{cid}/ledger", token=shop.chain.till).json["items"]
    restore = next(e for e in ledger if e["kind"] == "reverse" and e["points"] >= 0)
    assert (restore["points"], restore["expired"]) == (0, 600)
    with shop.app.app_context():  # put the date back: the rest returns to that very lot, with its date
        db.session.execute(PointsEntry.__table__.update().where(PointsEntry.id == lot_id).values(expires_on=lot_date))
        db.session.commit()
    r = till.refund(sale["id"])
    assert (r["effects"]["membership"]["points_returned"], r["effects"]["membership"]["points_expired"]) == (400, 0)
    with shop.app.app_context():
        lot = db.session.get(PointsEntry, lot_id)
        assert (lot.remaining, lot.expires_on) == (400, lot_date)  # no new lot, no new date
    assert ledger_sum(shop.app, cid)[0] == ledger_sum(shop.app, cid)[1] == 400


@pytest.mark.parametrize("backend_only", ["sqlite"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(earned=st.lists(st.tuples(st.dates(date(2024, 11, 1), date(2027, 2, 28)), st.integers(1, 900)),
                       min_size=1, max_size=4),
       spend=st.integers(0, 2000), refund_at=st.dates(date(2024, 12, 1), date(2029, 3, 1)),
       job_ran=st.booleans())
def test_across_year_ends_spending_and_returning_never_counts_a_dead_lot(app, backend, backend_only, earned, spend,
                                                                          refund_at, job_ran):
    """Lots earned either side of New Year, a redemption, a refund of it on any later day
    (job run or not): what may be spent is always the live lots, and the ledger adds up."""
    if backend != backend_only:
        pytest.skip("date arithmetic: one backend is enough (the lots query is the same SQL)")
    from core.extensions import db
    from core.models import Customer
    from plugins.membership import services
    from plugins.membership.models import PointsEntry

    with app.app_context():
        session = db.session
        services.seed_defaults(session)
        program = services.get_program(session)
        customer = Customer(name="x", phone=f"+86137{next(_phones):08d}")
        session.add(customer)
        session.flush()
        member = services.lock_member(session, customer.id)
        for day, points in earned:
            services.ledger._credit(session, member, "earn", points, expires_on=services.expiry_for(program, day))
        first_day = min(d for d, _p in earned)
        spend_day = first_day + timedelta(days=1)
        live = sum(p for d, p in earned if services.expiry_for(program, d) >= spend_day)
        taken = min(spend, live)
        assert services.available_points(session, member, spend_day) == live
        if taken:
            redeemed = services.ledger._debit(session, member, "redeem", taken, today=spend_day)
            with pytest.raises(Unprocessable):
                services.ledger._debit(session, member, "redeem", live - taken + 1, today=spend_day)
        refund_day = max(refund_at, spend_day)
        if job_ran:
            services.expire_points(session, today=refund_day)
            member = services.lock_member(session, customer.id)
        back = gone = 0
        if taken:
            back, gone = services.refunds._return_to_lots(
                session, member, _Sale(), _Refund(), redeemed, taken, refund_day, {}, store=None, user=None, actor="t")
            # each point goes back to the lot it came from, alive or gone by that lot's own date
            dates = {lot.id: lot.expires_on for lot in session.scalars(select(PointsEntry).where(
                PointsEntry.customer_id == customer.id, PointsEntry.kind == "earn"))}
            expected_gone = sum(n for lot_id, n in redeemed.data["lots"] if dates[lot_id] < refund_day)
            assert (back, gone) == (taken - expected_gone, expected_gone)
        still_live = sum(p for d, p in earned if services.expiry_for(program, d) >= refund_day)
        spent_from_live = sum(n for lot_id, n in (redeemed.data["lots"] if taken else [])
                              if session.get(PointsEntry, lot_id).expires_on >= refund_day)
        assert services.available_points(session, member, refund_day) == still_live - spent_from_live + back
        assert member.points_balance == services.ledger_balance(session, customer.id)
        session.rollback()


class _Sale:
    id = None


class _Refund:
    id = None
