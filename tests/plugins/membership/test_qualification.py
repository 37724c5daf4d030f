"""Qualification by spend, by number of purchases, or either (seed 000: 根据客户的消费金额或消费次数),
at the boundaries: exactly on a count qualifies, one short does not; a purchase refunded in full
no longer counts."""

from __future__ import annotations

from tests.conftest import Api
from tests.plugins.membership.conftest import program


def _tiers(shop, **counts):
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    for tier in owner.get("/membership/tiers?store=SH001").json:
        if tier["code"] in counts:
            r = owner.patch(f"/membership/tiers/{tier['id']}", {"store": "SH001", "min_purchases": counts[tier["code"]]})
            assert r.status_code == 200 and r.json["min_purchases"] == counts[tier["code"]], r.json


def test_by_purchases_the_third_purchase_makes_a_member_and_spend_alone_does_not(shop):
    program(shop.app, qualify_by="purchases")
    _tiers(shop, ordinary=3, silver=5)
    till = shop.till
    cid = till.customer("13900139951")
    assert till.sell(cid, "4999.00")["effects"]["membership"]["member"] is False  # ¥4,999: not counted by spend
    assert till.sell(cid, "1.00")["effects"]["membership"]["member"] is False  # 2 purchases: one short
    third = till.sell(cid, "1.00")["effects"]["membership"]
    assert (third["member"], third["tier"], third["upgraded"]) == (True, "ordinary", True)
    view = till.member(cid)
    assert (view["qualifying_purchases"], view["qualify_by"], view["purchases_to_next_tier"]) == (3, "purchases", 2)


def test_by_purchases_a_purchase_refunded_in_full_no_longer_counts_and_downgrades(shop):
    program(shop.app, qualify_by="purchases")
    _tiers(shop, ordinary=2, silver=4)
    till = shop.till
    cid = till.customer("13900139952")
    sales = [till.sell(cid, "10.00") for _ in range(4)]
    assert sales[-1]["effects"]["membership"]["tier"] == "silver"
    r = till.refund(sales[1]["id"])  # refunded in full: 3 purchases left, below silver's 4
    effects = r["effects"]["membership"]
    assert (effects["downgraded"], effects["tier"], effects["previous_tier"]) == (True, "ordinary", "silver")
    assert till.member(cid)["qualifying_purchases"] == 3


def test_either_spend_or_purchases_reaches_a_tier_exactly_on_its_boundary(shop):
    program(shop.app, qualify_by="either")
    _tiers(shop, ordinary=1, silver=6)
    till = shop.till
    for n, (spend, count, tier) in enumerate([("2999.99", 0, "ordinary"), ("3000.00", 0, "silver"),
                                               ("10.00", 4, "ordinary"), ("10.00", 5, "silver")]):
        cid = till.customer(f"1390013996{n}")
        for _ in range(count):
            till.sell(cid, "0.01")
        last = till.sell(cid, spend)["effects"]["membership"]
        assert last["tier"] == tier, (spend, count, last)


def test_the_yearly_review_counts_purchases_too(shop):
    from datetime import date

    from core.extensions import db
    from plugins.membership.services import yearly_review

    program(shop.app, qualify_by="purchases")
    _tiers(shop, ordinary=1, silver=3)
    till = shop.till
    cid = till.customer("13900139954")
    sales = [till.sell(cid, "10.00") for _ in range(3)]
    assert sales[-1]["effects"]["membership"]["tier"] == "silver"
    program(shop.app, refund_downgrade="at_review")
    till.refund(sales[0]["id"])  # 2 purchases now, but the program downgrades at the review only
    assert till.member(cid)["tier"]["code"] == "silver"
    with shop.app.app_context():
        assert yearly_review(db.session, date(2030, 1, 1), force=True)["downgrade"] == 1
    assert till.member(cid)["tier"]["code"] == "ordinary"
