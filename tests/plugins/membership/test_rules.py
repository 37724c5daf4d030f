"""Membership rules at their boundaries, through the till's API (plugins.md "membership", seed 000)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.plugins.membership.conftest import ledger_sum, program


def test_enabling_seeds_the_seed_000_tiers_once(shop):
    from tests.conftest import enable

    tiers = shop.api.get("/membership/tiers", token=shop.chain.till).json
    assert [(t["code"], t["threshold"], t["points_rate"], t["birthday_discount_percent"], t["perks"]) for t in tiers] == [
        ("ordinary", "1000.00", "1.00", "20.00", []),
        ("silver", "3000.00", "1.20", "30.00", ["event_priority"]),
        ("gold", "5000.00", "1.50", "40.00", ["exclusive_gift", "priority_service"]),
    ]
    enable(shop.app, "BJ001", "membership")  # a second store shares the program: no second set of tiers
    assert len(shop.api.get("/membership/tiers", token=shop.chain.till_bj).json) == 3


def test_membership_starts_at_exactly_1000_and_silver_at_exactly_3000(shop):
    till = shop.till
    cid = till.customer("13800138001")
    below = till.sell(cid, "999.99")["effects"]["membership"]
    assert below == {"member": False, "points_earned": 0, "points_redeemed": 0, "points_reversed": 0,
                     "points_returned": 0, "balance": 0, "tier": None, "upgraded": False}
    # ¥0.01 more reaches exactly ¥1,000: a member from this sale, earning at 1.0 on it (0.01 → 0 points)
    crossing = till.sell(cid, "0.01")["effects"]["membership"]
    assert crossing["member"] and crossing["tier"] == "ordinary" and crossing["upgraded"] is True
    ordinary = till.sell(cid, "1999.99")["effects"]["membership"]  # ¥2,999.99: still ordinary
    assert (ordinary["tier"], ordinary["points_earned"], ordinary["upgraded"]) == ("ordinary", 1999, False)
    # exactly ¥3,000 → silver, and this sale already earns at silver's 1.2
    silver = till.sell(cid, "0.01")["effects"]["membership"]
    assert (silver["tier"], silver["upgraded"]) == ("silver", True)
    silver = till.sell(cid, "100.00")["effects"]["membership"]
    assert (silver["points_earned"], silver["upgraded"]) == (120, False)
    gold = till.sell(cid, "2000.00")["effects"]["membership"]  # ¥5,100 → gold at 1.5 on the whole sale
    assert (gold["tier"], gold["points_earned"], gold["upgraded"]) == ("gold", 3000, True)
    assert gold["balance"] == 1999 + 120 + 3000
    view = till.member(cid)
    assert view["lifetime_spend"] == "5100.00" and view["points_balance"] == 5119 and view["next_tier"] is None


def test_points_are_earned_on_what_was_paid_not_on_discounts_nor_points(shop):
    till = shop.till
    cid = till.customer("13800138002")
    till.sell(cid, "2000.00")  # a member now, 2,000 points
    # ¥100 of goods, ¥20 line discount off: ¥80 paid → 80 points, and ¥80 counted as spend
    r = till.sell(cid, lines=[{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00", "discount": "20.00"}])
    assert r["effects"]["membership"]["points_earned"] == 80
    # ¥100 with 1,000 points (¥10) off as redemption: earns on ¥90 only, and the points are gone
    quote = till.quote(cid, [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}], redeem_points=1000)
    points_adj = [a for a in quote["adjustments"] if a["code"] == "points"]
    assert points_adj[0]["amount"] == "-10.00" and points_adj[0]["data"]["points"] == 1000
    r = till.sell(cid, lines=[{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}], adjustments=points_adj,
                  options={"redeem_points": 1000})
    effects = r["effects"]["membership"]
    assert (effects["points_earned"], effects["points_redeemed"]) == (90, 1000)
    # points tendered as a payment method are not paid money either
    r = till.sell(cid, "100.00", payments=[{"method": "points", "amount": "5.00", "data": {"points": 500}},
                                         {"method": "cash", "amount": "95.00"}])
    assert (r["effects"]["membership"]["points_earned"], r["effects"]["membership"]["points_redeemed"]) == (95, 500)
    assert till.member(cid)["lifetime_spend"] == "2265.00"  # 2000 + 80 + 90 + 95
    assert ledger_sum(shop.app, cid) == (2000 + 80 - 1000 + 90 - 500 + 95,) * 2


def test_walk_ins_and_customers_below_the_first_tier_earn_nothing(shop):
    r = shop.till.sell(None, "2000.00")
    assert "membership" not in r["effects"]  # a walk-in: nothing to say
    cid = shop.till.customer("13800138003")
    assert shop.till.sell(cid, "500.00")["effects"]["membership"]["points_earned"] == 0


def test_refund_after_an_upgrade_reverses_the_lines_points_and_downgrades_at_once(shop):
    till = shop.till
    cid = till.customer("13800138004")
    till.sell(cid, "2900.00")  # ordinary, 2,900 points
    sale = till.sell(cid, lines=[{"sku": "LATTE-M", "quantity": 2, "unit_price": "50.00"},
                                 {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "100.00"}])
    assert sale["effects"]["membership"]["upgraded"] and sale["effects"]["membership"]["tier"] == "silver"
    assert sale["effects"]["membership"]["points_earned"] == 240  # ¥200 at silver's 1.2
    # one latte back: ¥50 of spend (¥3,050 left: still silver) and exactly that line's 60 points
    r = till.refund(sale["id"], [{"sku": "LATTE-M", "quantity": 1}])
    assert r["effects"]["membership"]["points_reversed"] == 60 and r["effects"]["membership"]["tier"] == "silver"
    # the cake back: spend ¥2,950 is below ¥3,000 → ordinary at once (the program's default)
    r = till.refund(sale["id"], [{"sku": "CAKE-CHOC", "quantity": 1}])
    effects = r["effects"]["membership"]
    assert effects["points_reversed"] == 120  # this refund's, not the sale's running total
    assert (effects["tier"], effects["downgraded"], effects["previous_tier"], effects["upgraded"]) == (
        "ordinary", True, "silver", False)
    # the last latte: every point the sale earned is back out, none left over by rounding
    r = till.refund(sale["id"])
    assert r["effects"]["membership"]["points_reversed"] == 60 and r["effects"]["membership"]["downgraded"] is False
    view = till.member(cid)
    assert view["points_balance"] == 2900 and view["lifetime_spend"] == "2900.00"
    assert ledger_sum(shop.app, cid) == (2900, 2900)
    with shop.app.app_context():
        from core.extensions import db
        from core.models import Activity

        changes = [a.data for a in db.session.scalars(select(Activity).where(Activity.customer_id == cid,
                                                                             Activity.kind == "tier_change"))]
        assert [(c["from"], c["to"]) for c in changes] == [(None, "ordinary"), ("ordinary", "silver"), ("silver", "ordinary")]


def test_refund_downgrade_can_wait_for_the_yearly_review(shop):
    from core.extensions import db
    from plugins.membership.services import yearly_review

    program(shop.app, refund_downgrade="at_review")
    till = shop.till
    cid = till.customer("13800138005")
    sale = till.sell(cid, "3000.00")
    assert sale["effects"]["membership"]["tier"] == "silver"
    assert till.refund(sale["id"], [{"sku": "BEANS-1KG", "quantity": 1}])["effects"]["membership"]["tier"] == "silver"
    with shop.app.app_context():
        assert yearly_review(db.session, today=date(2030, 1, 1)) == {"reviewed": True, "upgrade": 0, "downgrade": 1}
        assert yearly_review(db.session, today=date(2030, 1, 2)) == {"reviewed": False}  # once a year
    view = till.member(cid)
    assert view["member"] and view["tier"]["code"] == "ordinary"  # never below the first tier


def test_birthday_on_29_february_doubles_points_on_28_february_in_other_years(shop):
    from plugins.membership.services import birthday_in, in_birthday_week

    till = shop.till
    cid = till.customer("13800138006", birthday="--02-29")
    till.sell(cid, "1000.00", occurred_at="2027-01-10T10:00:00+08:00")
    # 2027 is not a leap year: the birthday is celebrated on 28 February
    assert birthday_in(2027, 2, 29) == date(2027, 2, 28) and birthday_in(2028, 2, 29) == date(2028, 2, 29)
    birthday = till.sell(cid, "100.00", occurred_at="2027-02-28T12:00:00+08:00")["effects"]["membership"]
    assert birthday["points_earned"] == 200
    day_after = till.sell(cid, "100.00", occurred_at="2027-03-01T12:00:00+08:00")["effects"]["membership"]
    assert day_after["points_earned"] == 100
    # the store's day counts: 23:30 on the 28th in Shanghai is 15:30 UTC, still the birthday
    late = till.sell(cid, "100.00", occurred_at="2027-02-28T15:30:00+00:00")["effects"]["membership"]
    assert late["points_earned"] == 200

    class Person:
        birth_month, birth_day = 2, 29

    assert in_birthday_week(Person, date(2027, 3, 3), 3) and not in_birthday_week(Person, date(2027, 3, 4), 3)


def test_a_locked_tier_does_not_move_and_enrol_by_hand_starts_at_the_first_tier(shop):
    till = shop.till
    cid = till.customer("13800138007")
    r = shop.api.post(f"/membership/members/{cid}/enrol", {}, token=shop.chain.till)
    assert r.status_code == 200 and r.json["tier"]["code"] == "ordinary" and r.json["enrolled_by"] == "manual"
    assert till.sell(cid, "10.00")["effects"]["membership"]["points_earned"] == 10  # members earn from the first ¥
    assert shop.api.put(f"/membership/members/{cid}/tier-lock", {"locked": True}, token=shop.chain.staff_token).status_code == 403
    r = shop.api.put(f"/membership/members/{cid}/tier-lock", {"locked": True, "tier": "silver"},
                     token=shop.chain.manager_token)
    assert r.status_code == 200 and r.json["tier"]["code"] == "silver" and r.json["tier_locked"] is True
    assert till.sell(cid, "6000.00")["effects"]["membership"]["tier"] == "silver"  # locked: no upgrade to gold
    r = shop.api.put(f"/membership/members/{cid}/tier-lock", {"locked": False}, token=shop.chain.manager_token)
    assert till.sell(cid, "1.00")["effects"]["membership"]["tier"] == "gold"


def test_a_first_threshold_of_zero_makes_every_buyer_a_member(shop):
    tiers = shop.api.get("/membership/tiers", token=shop.chain.till).json
    r = shop.api.patch(f"/membership/tiers/{tiers[0]['id']}", {"threshold": "0", "store": "SH001"},
                       token=shop.chain.owner_token)
    assert r.status_code == 200, r.json
    cid = shop.till.customer("13800138008")
    effects = shop.till.sell(cid, "28.00")["effects"]["membership"]
    assert (effects["member"], effects["tier"], effects["points_earned"]) == (True, "ordinary", 28)


def test_rolling_window_counts_the_last_12_months_only(shop):
    program(shop.app, qualification="rolling_12m")
    till = shop.till
    cid = till.customer("13800138009")
    till.sell(cid, "2500.00", occurred_at="2020-01-10T10:00:00+08:00")  # long ago: ordinary then
    r = till.sell(cid, "600.00")["effects"]["membership"]
    assert r["tier"] == "ordinary"  # lifetime ¥3,100, but only ¥600 in the last 12 months
    assert till.member(cid)["qualifying_spend"] == "600.00"


def test_points_and_tier_follow_the_member_to_other_stores_but_only_enabling_stores_earn(shop):
    from tests.conftest import enable

    cid = shop.till.customer("13800138010")
    shop.till.sell(cid, "1000.00")
    assert shop.api.get(f"/membership/members/{cid}", token=shop.chain.till_bj).status_code == 404  # off in BJ001
    # the member presents their phone at the Beijing counter: served there, BJ001 sees them
    assert shop.api.post("/customers/serve-here", {"phone": "13800138010"}, token=shop.chain.till_bj).status_code == 200
    r = shop.till_bj.sell(cid, "500.00")
    assert "membership" not in r["effects"]
    enable(shop.app, "BJ001", "membership")
    view = shop.till_bj.member(cid)
    assert view["points_balance"] == 1000 and view["tier"]["code"] == "ordinary"
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 600, "reason": "mug"}, token=shop.chain.till_bj)
    assert r.status_code == 201 and r.json["points_balance"] == 400
    # redeemed in Beijing, gone in Shanghai too
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 401}, token=shop.chain.till)
    assert r.status_code == 422 and r.json["error"]["code"] == "unprocessable"
    assert shop.till.member(cid)["points_balance"] == 400


def test_redemption_beyond_the_balance_is_a_422_and_changes_nothing(shop):
    cid = shop.till.customer("13800138011")
    shop.till.sell(cid, "1000.00")
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 1001}, token=shop.chain.till)
    assert r.status_code == 422
    assert r.json["error"]["fields"]["points"] == ["The balance is 1000 points; 1001 were asked for."]
    assert shop.till.member(cid)["points_balance"] == 1000
    assert shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 1000}, token=shop.chain.till).json["points_balance"] == 0


def test_manual_adjustment_needs_a_manager_and_a_reason_and_is_audited(shop):
    from core.extensions import db
    from core.models import AuditLog

    cid = shop.till.customer("13800138012")
    path = f"/membership/members/{cid}/adjustments"
    assert shop.api.post(path, {"points": 50, "reason": "x"}, token=shop.chain.staff_token).status_code == 403
    assert shop.api.post(path, {"points": 50, "reason": "x"}, token=shop.chain.till).status_code == 403
    r = shop.api.post(path, {"points": 50}, token=shop.chain.manager_token)
    assert r.status_code == 400 and "reason" in r.json["error"]["fields"]
    r = shop.api.post(path, {"points": 50, "reason": "机器故障补积分"}, token=shop.chain.manager_token)
    assert r.status_code == 201 and r.json["points_balance"] == 50
    assert shop.api.post(path, {"points": -51, "reason": "too much"}, token=shop.chain.manager_token).status_code == 422
    with shop.app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "membership_points_adjusted")).one()
        assert (row.actor, row.details["points"], row.details["reason"]) == ("manager", 50, "机器故障补积分")


def test_expiry_and_redemption_spends_the_soonest_expiring_points_first(shop):
    from core.extensions import db
    from plugins.membership.services import expire_points

    till = shop.till
    cid = till.customer("13800138013")
    till.sell(cid, "1000.00", occurred_at="2025-03-01T10:00:00+08:00")  # expires 2026-12-31
    till.sell(cid, "300.00", occurred_at="2026-03-01T10:00:00+08:00")  # expires 2027-12-31
    other = till.customer("13800138014")
    till.sell(other, "2000.00", occurred_at="2025-05-01T10:00:00+08:00")  # all of it expires 2026-12-31
    view = till.member(cid)
    assert view["expiring"] == [{"expires_on": "2026-12-31", "points": 1000}, {"expires_on": "2027-12-31", "points": 300}]
    r = shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 200}, token=shop.chain.till)
    assert r.json["expiring"] == [{"expires_on": "2026-12-31", "points": 800}, {"expires_on": "2027-12-31", "points": 300}]
    with shop.app.app_context():
        assert expire_points(db.session, today=date(2026, 12, 31)) == 0  # still valid on the last day
        assert expire_points(db.session, today=date(2027, 1, 1)) == 800 + 2000
        assert expire_points(db.session, today=date(2027, 1, 1)) == 0  # never twice
    view = till.member(cid)
    assert view["points_balance"] == 300 and view["expiring"] == [{"expires_on": "2027-12-31", "points": 300}]
    assert [e["kind"] for e in view["ledger"]][:1] == ["expire"]
    assert ledger_sum(shop.app, cid) == (300, 300)
    assert ledger_sum(shop.app, other) == (0, 0)


def test_membership_routes_are_in_the_openapi_document_and_404_where_off(shop):
    doc = shop.api.get("/openapi.json").json
    for path in ("/api/v1/membership/members/{customer_id}", "/api/v1/membership/members/{customer_id}/adjustments",
                 "/api/v1/membership/tiers", "/api/v1/membership/tiers/{tier_id}", "/api/v1/membership/member-days"):
        assert path in doc["paths"], path
    assert shop.api.get("/membership/tiers", token=shop.chain.till_bj).status_code == 404


def test_refunding_goods_paid_with_points_gives_those_points_back(shop):
    till = shop.till
    cid = till.customer("13800138015")
    till.sell(cid, "1000.00")  # 1,000 points
    lines = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "20.00"}, {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "30.00"}]
    quote = till.quote(cid, lines, redeem_points=1000)
    points = [a for a in quote["adjustments"] if a["code"] == "points"]
    assert points[0]["amount"] == "-10.00"
    sale = till.sell(cid, lines=lines, adjustments=points, options={"redeem_points": 1000})
    assert sale["effects"]["membership"]["points_earned"] == 40 and sale["effects"]["membership"]["balance"] == 40
    r = till.refund(sale["id"], [{"sku": "CAKE-CHOC", "quantity": 1}])  # ¥30 of ¥50: 600 of the 1,000 points
    assert r["amount"] == "24.00"
    effects = r["effects"]["membership"]
    assert (effects["points_returned"], effects["points_reversed"]) == (600, 24)
    r = till.refund(sale["id"])  # this refund's share: the other 400 points and 16 earned
    assert (r["effects"]["membership"]["points_returned"], r["effects"]["membership"]["points_reversed"]) == (400, 16)
    assert till.member(cid)["points_balance"] == 1000 and ledger_sum(shop.app, cid) == (1000, 1000)


def test_a_store_reads_only_members_it_may_see(shop):
    from tests.conftest import enable

    enable(shop.app, "BJ001", "membership")
    beijing_only = shop.till_bj.customer("13800138016", home_store="BJ001")
    shop.till_bj.sell(beijing_only, "1000.00")
    for path, method, body in [(f"/membership/members/{beijing_only}", "GET", None),
                               (f"/membership/members/{beijing_only}/redemptions", "POST", {"points": 1}),
                               (f"/membership/members/{beijing_only}/adjustments", "POST", {"points": 1, "reason": "x"})]:
        r = shop.api.call(method, path, json=body, token=shop.chain.manager_token)
        assert r.status_code == 404, (path, r.json)
    # an id is no capability: Shanghai cannot sell to them by id; once the member presents
    # their phone at the Shanghai till and buys, Shanghai sees the chain-wide balance
    shop.till.sell(beijing_only, "10.00", expect=404)
    shop.till.sell(None, "10.00", customer={"phone": "138 0013 8016"})
    assert shop.till.member(beijing_only)["points_balance"] == 1010


def test_program_rules_are_the_owners_and_validated(shop):
    from tests.conftest import Api

    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    program_now = owner.get("/membership/program?store=SH001").json
    assert (program_now["qualification"], program_now["expiry_years"], program_now["points_per_yuan_redeemed"],
            program_now["redeem_max_percent"]) == ("lifetime", 1, 100, "50.00")
    assert shop.api.patch("/membership/program", {"expiry_years": 2}, token=shop.chain.manager_token).status_code == 403
    r = owner.patch("/membership/program", {"store": "SH001", "review_month": 2, "review_day": 30})
    assert r.status_code == 400 and "review_day" in r.json["error"]["fields"]
    r = owner.patch("/membership/program", {"store": "SH001", "timezone": "Mars/Olympus"})
    assert r.status_code == 400 and "timezone" in r.json["error"]["fields"]
    r = owner.patch("/membership/program", {"store": "SH001", "qualification": "forever"})
    assert r.status_code == 400 and "qualification" in r.json["error"]["fields"]
    r = owner.patch("/membership/program", {"store": "SH001", "points_per_yuan_redeemed": 50, "expiry_years": 0})
    assert r.status_code == 200 and r.json["points_per_yuan_redeemed"] == 50
    cid = shop.till.customer("13800138017")
    shop.till.sell(cid, "1000.00")
    assert shop.till.member(cid)["expiring"] == [{"expires_on": None, "points": 1000}]  # 0 = points never expire
    points = [a for a in shop.till.quote(cid, [{"sku": "LATTE-M", "quantity": 1}], redeem_points=500)["adjustments"]]
    assert points[0]["amount"] == "-10.00"  # 50 points = ¥1 now
    assert owner.patch("/membership/tiers/99999999999", {"store": "SH001", "name": "x"}).status_code == 404
    assert shop.api.get("/membership/members/99999999999", token=shop.chain.till).status_code == 404


def test_a_refund_of_points_already_spent_never_makes_the_balance_negative(shop):
    till = shop.till
    cid = till.customer("13800138018")
    sale = till.sell(cid, "1200.00")  # 1,200 points
    shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 1000, "reason": "gift"}, token=shop.chain.till)
    r = till.refund(sale["id"])
    assert r["effects"]["membership"]["points_reversed"] == 200 and r["effects"]["membership"]["balance"] == 0
    with shop.app.app_context():
        from core.extensions import db
        from plugins.membership.models import PointsEntry

        entry = db.session.scalars(select(PointsEntry).where(PointsEntry.kind == "reverse")).one()
        assert (entry.points, entry.data["owed"], entry.data["unrecovered"]) == (-200, 1200, 1000)
    assert ledger_sum(shop.app, cid) == (0, 0)
