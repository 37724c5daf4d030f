"""Scheduled membership work and what campaigns can ask of membership (segment filters)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.plugins import Manifest
from tests.conftest import Api, build_chain, enable
from tests.plugins.membership.conftest import Till, program
from tests.plugins.membership.test_till import Channel


def test_jobs_are_registered_with_the_scheduler(app):
    from core.jobs import collect_periodic_jobs

    names = {job.name: job for job in collect_periodic_jobs(app).jobs}
    assert names["membership.expire_points"].path == "plugins.membership.jobs.expire_points"
    assert names["membership.yearly_review"].cron == "45 2 * * *"


def test_yearly_review_in_rolling_mode_downgrades_once_a_year_and_tells_the_member(make_app):
    from core.extensions import db
    from plugins.membership import jobs
    from plugins.membership.models import Program

    channel = Channel()
    app = make_app(plugins=[Manifest(name="channel", version="1.0", summary="test channel", hooks=channel)])
    chain = build_chain(app)
    enable(app, "SH001", "membership", "channel")
    program(app, qualification="rolling_12m", review_month=1, review_day=1)
    till = Till(Api(app.test_client()), chain.till)
    kept = till.customer("13500135001", home_store="SH001")
    dropped = till.customer("13500135002", home_store="SH001")
    locked = till.customer("13500135003", home_store="SH001")
    till.sell(kept, "5000.00")
    for cid in (dropped, locked):
        till.sell(cid, "5000.00", occurred_at="2024-06-01T10:00:00+08:00")  # gold then, nothing since
    r = Api(app.test_client()).put(f"/membership/members/{locked}/tier-lock", {"locked": True},
                                   token=chain.manager_token)
    assert r.status_code == 200
    channel.sent.clear()
    with app.app_context():
        # the review runs on its date, once: pretend the last one was long ago
        db.session.scalars(select(Program)).one().last_review_on = date(2020, 1, 1)
        db.session.commit()
        assert jobs.yearly_review() == {"reviewed": True, "upgrade": 0, "downgrade": 1}
        assert jobs.yearly_review() == {"reviewed": False}
    assert till.member(kept)["tier"]["code"] == "gold"
    assert till.member(dropped)["tier"]["code"] == "ordinary"  # 保级 failed: back to the first tier, still a member
    assert till.member(locked)["tier"]["code"] == "gold"  # a manager's lock holds
    assert channel.sent == [(dropped, "membership.downgrade", "ordinary", "SH001")]


def test_segment_filters_select_by_tier_and_balance(shop):
    from core.extensions import db
    from core.models import Customer
    from core.plugins import HookContext

    till = shop.till
    ordinary, silver, prospect = till.customer("13500135004"), till.customer("13500135005"), till.customer("13500135006")
    till.sell(ordinary, "1000.00")
    till.sell(silver, "3000.00")
    till.sell(prospect, "10.00")
    lapsed = till.customer("13500135009")
    till.sell(lapsed, "2000.00", occurred_at="2024-06-01T10:00:00+08:00")  # 2,000 points that expired 2025-12-31
    with shop.app.app_context():
        reg = shop.app.extensions["storecrm.plugins"]
        filters = {f["name"]: f for f in reg.caller_for("segment_filters", "membership")()[0]}
        ctx = HookContext(session=db.session, registry=reg, plugin="membership")
        by_tier = filters["membership_tier"]["apply"](select(Customer.id), {"tiers": ["silver", "gold"]}, ctx)
        assert list(db.session.scalars(by_tier)) == [silver]
        rich = filters["membership_points"]["apply"](select(Customer.id), {"min": 1000}, ctx)
        assert sorted(db.session.scalars(rich)) == [ordinary, silver]  # not `lapsed`: expired, job or no job


def test_recount_counts_history_from_before_membership_once(app, chain):
    """An imported history: sales posted while membership was off count towards tiers once
    it is on (no points for the past), and running the recount again adds nothing."""
    from core.extensions import db
    from core.models import Activity

    api = Api(app.test_client())
    till = Till(api, chain.till)
    gold_then = till.customer("13500135007")
    refunded = till.customer("13500135008")
    till.sell(gold_then, "4000.00")
    till.sell(gold_then, "1000.00", payments=[{"method": "points", "amount": "100.00"}, {"method": "cash", "amount": "900.00"}])
    big = till.sell(refunded, "1500.00")
    till.refund(big["id"])
    till.sell(refunded, "500.00")
    enable(app, "SH001", "membership")
    live = till.sell(gold_then, "200.00")  # counted live: ¥4,900 of history is not counted yet
    assert live["effects"]["membership"]["member"] is False
    runner = app.test_cli_runner()
    result = runner.invoke(args=["membership", "recount"])
    assert result.exit_code == 0, result.output
    assert "4 past sales" in result.output and "1 customers moved up" in result.output
    view = till.member(gold_then)
    assert (view["tier"]["code"], view["lifetime_spend"], view["points_balance"]) == ("gold", "5100.00", 0)
    other = till.member(refunded)
    assert (other["member"], other["lifetime_spend"]) == (False, "500.00")
    assert "0 past sales" in runner.invoke(args=["membership", "recount"]).output
    assert till.member(gold_then)["lifetime_spend"] == "5100.00"
    with app.app_context():
        change = db.session.scalars(select(Activity).where(Activity.customer_id == gold_then,
                                                          Activity.kind == "tier_change")).one()
        assert (change.data["from"], change.data["to"]) == (None, "gold")
    assert till.sell(gold_then, "100.00")["effects"]["membership"]["points_earned"] == 150
