"""The exclusive yearly gift (专属礼品): a gift per tier, issued once a year (safe to run
twice), shown on the member's page, and taken at the till as an adjustment the server
computes from `options.gift`, once."""

from __future__ import annotations

import pytest

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.conftest import Api

CART = [{"sku": "LATTE-M", "quantity": 2, "unit_price": "50.00"}]  # ¥100


def test_a_gold_member_gets_this_years_gift_once_and_takes_it_at_the_till(shop):
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    tiers = {t["code"]: t["id"] for t in owner.get("/membership/tiers?store=SH001").json}
    r = owner.put(f"/membership/tiers/{tiers['gold']}/gift", {"store": "SH001", "name": "年度礼盒", "value": "88.00"})
    assert r.status_code == 200 and r.json == {"tier_id": tiers["gold"], "name": "年度礼盒", "value": "88.00",
                                               "active": True}, r.json
    till = shop.till
    gold = till.customer("13900139501", name="金卡王")
    till.sell(gold, "5000.00")
    silver = till.customer("13900139502")
    till.sell(silver, "3000.00")
    assert owner.post("/membership/gifts/issue", {"store": "SH001"}).json == {"issued": 1}
    assert owner.post("/membership/gifts/issue", {"store": "SH001"}).json == {"issued": 0}  # safe to run twice
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    gifts = shop.api.get(f"/membership/members/{gold}/gifts", token=shop.chain.till).json
    assert [(g["year"], g["name"], g["value"], g["state"], g["expires_on"]) for g in gifts] == [
        (year, "年度礼盒", "88.00", "issued", f"{year}-12-31")]

    from tests.admin.conftest import login

    client = shop.app.test_client()
    assert login(client, "alice").status_code == 302
    assert "年度礼盒" in client.get(f"/admin/customers/{gold}").get_data(as_text=True)

    quote = till.quote(gold, CART, gift=True)
    assert [(a["code"], a["amount"]) for a in quote["adjustments"]] == [("tier_discount", "-5.00"), ("gift", "-88.00")]
    assert quote["total"] == "7.00"
    # the gift's adjustment without asking for it is not what the server computes
    till.sell(gold, lines=CART, adjustments=quote["adjustments"], expect=422)
    sale = till.sell(gold, lines=CART, adjustments=quote["adjustments"], options={"gift": True})
    assert sale["total"] == "7.00"
    taken = shop.api.get(f"/membership/members/{gold}/gifts", token=shop.chain.till).json[0]
    assert (taken["state"], taken["sale_id"]) == ("redeemed", sale["id"])
    r = shop.api.post("/sales/quote", {"customer": {"id": gold}, "lines": CART, "options": {"gift": True}},
                      token=shop.chain.till)
    assert r.status_code == 422 and r.json["error"]["fields"]["options.gift"] == [
        "This customer has no exclusive gift left this year."]
    r = shop.api.post("/sales/quote", {"customer": {"id": silver}, "lines": CART, "options": {"gift": True}},
                      token=shop.chain.till)
    assert r.status_code == 422  # silver's tier has no gift


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # plain SQL, the same on both backends
def test_a_gift_never_takes_more_than_the_ticket_and_moves_with_a_merge(shop):
    from core.extensions import db
    from plugins.membership.gifts import services as gifts
    from plugins.membership.gifts.models import Gift
    from plugins.membership.models import Tier

    with shop.app.app_context():
        gifts.save_plan(db.session, db.session.scalars(select(Tier).where(Tier.code == "ordinary")).one(),
                        {"name": "咖啡券", "value": "30.00"})
        db.session.commit()
    till = shop.till
    cid = till.customer("13900139503")
    till.sell(cid, "1000.00")
    other = till.customer("13900139504")
    till.sell(other, "1000.00")
    with shop.app.app_context():
        assert gifts.issue(db.session) == 2
        db.session.commit()
    small = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "20.00"}]
    quote = till.quote(cid, small, gift=True)
    assert [(a["code"], a["amount"]) for a in quote["adjustments"]] == [("gift", "-20.00")] and quote["total"] == "0.00"
    r = shop.api.post(f"/customers/{cid}/merge", {"merge_id": other}, token=shop.chain.manager_token)
    assert r.status_code == 200, r.json
    with shop.app.app_context():  # one gift a year: the kept profile's stays, the merged one's is dropped
        assert db.session.scalars(select(Gift.customer_id)).all() == [cid]
    export = shop.api.get(f"/customers/{cid}/export", token=shop.chain.manager_token).json["plugins"]["membership"]
    assert [g["name"] for g in export["gifts"]] == ["咖啡券"]
    assert shop.api.delete(f"/customers/{cid}", token=shop.chain.manager_token).status_code == 200
    with shop.app.app_context():
        assert db.session.scalars(select(Gift)).all() == []
