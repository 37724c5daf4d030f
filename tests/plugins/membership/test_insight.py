"""Member insight: the members to recall (no purchase for N days, biggest lifetime spenders
first) on the page and as campaigns' `membership_recall` segment filter; active vs dormant
and points liability / redemption rate per month."""

from __future__ import annotations

import pytest

from sqlalchemy import select


def test_members_to_recall_page_and_segment_filter(shop):
    till = shop.till
    old_big = till.customer("13900139301", name="冯老客")
    old_small = till.customer("13900139302", name="陈老客")
    recent = till.customer("13900139303", name="褚新客")
    till.sell(old_big, "6000.00", occurred_at="2025-01-10T10:00:00+08:00")
    till.sell(old_small, "1200.00", occurred_at="2025-03-10T10:00:00+08:00")
    till.sell(recent, "2000.00", occurred_at="2025-03-10T10:00:00+08:00")
    till.sell(recent, "50.00")  # bought today
    till.customer("13900139304", name="卫路人")  # never a member: not in the list

    from tests.admin.conftest import login

    client = shop.app.test_client()
    assert login(client, "manager").status_code == 302
    page = client.get("/admin/membership/insight/?days=90").get_data(as_text=True)
    table = page[page.index('id="recall-list"'):]
    names = [n for n in ("冯老客", "陈老客", "褚新客", "卫路人") if n in table]
    assert sorted(names, key=table.index) == ["冯老客", "陈老客"]  # ¥6,000 before ¥1,200; 褚新客 bought today
    assert "chart-activity" in page and "chart-liability" in page and "vendor/chart.umd.min.js" in page
    assert "cdn" not in page.lower()
    staff = shop.app.test_client()
    assert login(staff, "alice").status_code == 302
    assert staff.get("/admin/membership/insight/").status_code == 403  # a manager's page

    from core.extensions import db
    from core.models import Customer
    from plugins.membership.insight import services as insight

    with shop.app.app_context():
        stmt = insight.recall_filter(select(Customer.id), {"days": 90})
        assert sorted(db.session.scalars(stmt)) == sorted([old_big, old_small])
        stmt = insight.recall_filter(select(Customer.id), {"days": 1000})
        assert list(db.session.scalars(stmt)) == []
        for hostile in (10**9, 0, -5, "abc", True, 2.5, None):  # a ValueError: campaigns' 400 naming the filter
            with pytest.raises(ValueError, match="from 1 to 3650"):
                insight.recall_filter(select(Customer.id), {"days": hostile})
        split = insight.active_and_dormant(db.session, 90)
    assert (split["codes"], split["active"], split["dormant"]) == (["ordinary", "silver", "gold"], [1, 0, 0], [1, 0, 1])
    names = {f["name"] for found in shop.app.extensions["storecrm.plugins"].call_registration("segment_filters")
             for f in found}
    assert "membership_recall" in names


def test_points_liability_and_redemption_rate_per_month(shop):
    from core.extensions import db
    from plugins.membership.insight import services as insight
    from plugins.membership.services import local_date

    till = shop.till
    cid = till.customer("13900139305")
    till.sell(cid, "1000.00")  # 1,000 points booked this month
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 250, "reason": "礼品"}, token=shop.chain.till)
    assert r.status_code == 201, r.json
    with shop.app.app_context():
        from core.models import utcnow

        today = local_date(utcnow(), "Asia/Shanghai")
        figures = insight.points_by_month(db.session, "Asia/Shanghai", today=today, months=2)
    assert figures["months"][-1] == today.strftime("%Y-%m") and len(figures["months"]) == 2
    assert (figures["earned"], figures["redeemed"], figures["liability"]) == ([0, 1000], [0, 250], [0, 750])
    assert [str(r) for r in figures["redemption_rate"]] == ["0", "25.0"]
    assert [str(y) for y in figures["liability_yuan"]] == ["0.00", "7.50"]  # 100 points = ¥1


def test_members_by_tier_at_each_month_end_follow_the_tier_changes(shop):
    from datetime import timedelta

    from core.extensions import db
    from core.models import utcnow
    from plugins.membership.insight import services as insight
    from plugins.membership.services import local_date

    till = shop.till
    today = local_date(utcnow(), "Asia/Shanghai")
    two_months_ago = (today.replace(day=1) - timedelta(days=40)).replace(day=10)
    riser = till.customer("13900139306")
    till.sell(riser, "1000.00", occurred_at=f"{two_months_ago.isoformat()}T10:00:00+08:00")  # ordinary then
    till.sell(riser, "2000.00")  # silver now
    steady = till.customer("13900139307")
    till.sell(steady, "5000.00", occurred_at=f"{two_months_ago.isoformat()}T11:00:00+08:00")  # gold since
    with shop.app.app_context():
        figures = insight.members_by_tier_over_time(db.session, "Asia/Shanghai", today=today, months=3)
    assert figures["counts"] == {"ordinary": [1, 1, 0], "silver": [0, 0, 1], "gold": [1, 1, 1]}, figures
