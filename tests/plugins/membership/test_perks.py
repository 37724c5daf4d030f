"""Perks that act (seed 000): gold's standing discount in the quote (the one best member
discount, never two), and priority service at the counter, on the customer page and first in
feedback's complaint queue through `customer_priority`."""

from __future__ import annotations

import pytest

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import Api, enable

CART = [{"sku": "LATTE-M", "quantity": 2, "unit_price": "50.00"}]  # ¥100
STANDING = {"source": "membership", "code": "tier_discount", "label": "Member tier discount / 会员等级折扣",
            "amount": "-5.00", "data": {"percent": "5.00", "tier": "gold"}}


def member(shop, phone: str, spend: str, **fields) -> int:
    """A member whose tier comes from `spend` (¥5,000 gold, ¥3,000 silver, ¥1,000 ordinary), bought today."""
    cid = shop.till.customer(phone, **fields)
    shop.till.sell(cid, spend)
    return cid


def test_gold_gets_5_percent_off_every_sale_and_points_are_capped_on_the_smaller_ticket(shop):
    till = shop.till
    gold = member(shop, "13900139101", "5000.00")  # 7,500 points at gold's 1.5
    silver = member(shop, "13900139102", "3000.00")
    quote = till.quote(gold, CART)
    assert quote["adjustments"] == [STANDING] and quote["total"] == "95.00"
    sale = till.sell(gold, lines=CART, adjustments=quote["adjustments"])
    assert sale["total"] == "95.00"
    assert till.quote(silver, CART)["adjustments"] == []  # silver has no standing discount by default
    # points pay at most 50% of the ticket after the member discount: ¥47.50, 4,750 points (not 5,000)
    paid = till.quote(gold, CART, redeem_points="max")["adjustments"]
    assert [(a["code"], a["amount"], a["data"].get("points")) for a in paid] == [
        ("tier_discount", "-5.00", None), ("points", "-47.50", 4750)]
    sale = till.sell(gold, lines=CART, adjustments=paid, options={"redeem_points": "max"})
    assert sale["total"] == "47.50"
    # a till posting the old, larger points figure is refused: the server decides
    stale = [STANDING, {"source": "membership", "code": "points", "amount": "-50.00", "label": "x", "data": {}}]
    till.sell(gold, lines=CART, adjustments=stale, options={"redeem_points": "max"}, expect=422)


def test_the_largest_member_discount_wins_and_the_store_can_switch_the_standing_one_off(shop):
    till = shop.till
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    birthday = member(shop, "13900139103", "5000.00", birthday=f"--{today.month:02d}-{today.day:02d}")
    codes = [(a["code"], a["amount"]) for a in till.quote(birthday, CART)["adjustments"]]
    assert codes == [("birthday", "-40.00")]  # gold's 6折 birthday week, not 40% + 5%
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    # an owner gives silver 8% standing: now larger than a 6% member day, which it replaces
    tiers = {t["code"]: t["id"] for t in owner.get("/membership/tiers?store=SH001").json}
    r = owner.patch(f"/membership/tiers/{tiers['silver']}", {"standing_discount_percent": "8", "store": "SH001"})
    assert r.status_code == 200 and r.json["standing_discount_percent"] == "8.00", r.json
    r = owner.post("/membership/member-days", {"store": "SH001", "name": "会员日", "weekday": today.weekday(),
                                               "discount_percent": "6"})
    assert r.status_code == 201, r.json
    silver = member(shop, "13900139104", "3000.00")
    assert [(a["code"], a["amount"]) for a in till.quote(silver, CART)["adjustments"]] == [("tier_discount", "-8.00")]
    r = owner.put("/stores/SH001/plugins/membership/settings", {"tier_discount_enabled": False})
    assert r.status_code == 200, r.json
    assert [(a["code"], a["amount"]) for a in till.quote(silver, CART)["adjustments"]] == [("member_day", "-6.00")]


def _admin(shop, username: str):
    from tests.admin.conftest import login

    client = shop.app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # page rendering: the SQL is the same on both
def test_priority_service_is_marked_at_the_counter_and_on_the_customer_page(shop):
    gold = member(shop, "13900139105", "5000.00", name="周金卡")
    member(shop, "13900139106", "1000.00", name="周普通")
    client = _admin(shop, "alice")
    page = client.get("/admin/customers/lookup?q=周").get_data(as_text=True)
    rows = page.split('class="list-group-item')[1:]
    assert len(rows) == 2
    assert ["priority-service" in row for row in rows if "周金卡" in row] == [True]
    assert ["priority-service" in row for row in rows if "周普通" in row] == [False]
    assert "priority-service" in client.get(f"/admin/customers/{gold}").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # page rendering: the SQL is the same on both
def test_priority_members_complaints_come_first_in_the_queue_while_the_store_says_so(shop):
    enable(shop.app, "SH001", "feedback")
    ordinary = member(shop, "13900139107", "1000.00", name="吴普通")
    gold = member(shop, "13900139108", "5000.00", name="吴金卡")
    for cid in (ordinary, gold):  # the ordinary member complained first: the earlier deadline
        r = shop.api.post("/feedback/complaints", {"customer_id": cid, "category": "service_attitude",
                                                   "description": "等太久"}, token=shop.chain.till)
        assert r.status_code == 201, r.json
    client = _admin(shop, "manager")

    def order():
        page = client.get("/admin/feedback/complaints/").get_data(as_text=True)
        table = page[page.index("complaint-queue"):]
        return sorted(("吴金卡", "吴普通"), key=table.index), table.count("priority-service")

    assert order() == (["吴金卡", "吴普通"], 1)  # gold first, marked
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    r = owner.put("/stores/SH001/plugins/membership/settings", {"priority_complaints_first": False})
    assert r.status_code == 200, r.json
    assert order() == (["吴普通", "吴金卡"], 0)  # by deadline only
