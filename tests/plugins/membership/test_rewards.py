"""The rewards catalogue (积分兑换): exchange points for goods or services at the counter or
through the API, stock kept by inventory through `stock_change`, and returns that give the
points back to the lots they came from (with their dates; expired ones are gone)."""

from __future__ import annotations

import pytest

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update

from tests.conftest import Api, enable
from tests.plugins.membership.conftest import ledger_sum


def _owner(shop) -> Api:
    return Api(shop.app.test_client(), token=shop.chain.owner_token)


def reward(shop, name: str, points: int, **fields) -> int:
    r = _owner(shop).post("/membership/rewards", {"store": "SH001", "name": name, "points": points, **fields})
    assert r.status_code == 201, r.json
    return r.json["id"]


def redeem(shop, cid: int, reward_id: int, quantity: int = 1, expect: int = 201) -> dict:
    r = shop.api.post(f"/membership/members/{cid}/reward-redemptions", {"reward_id": reward_id, "quantity": quantity},
                      token=shop.chain.till)
    assert r.status_code == expect, r.json
    return r.json


def lots(shop, cid: int) -> list[tuple[int, int, str]]:
    from core.extensions import db
    from plugins.membership.models import PointsEntry

    with shop.app.app_context():
        return [(e.points, e.remaining, str(e.expires_on)) for e in db.session.scalars(
            select(PointsEntry).where(PointsEntry.customer_id == cid, PointsEntry.points > 0,
                                      PointsEntry.kind == "earn").order_by(PointsEntry.id))]


def test_a_member_exchanges_points_and_a_return_puts_them_back_in_their_own_lots(shop):
    cup = reward(shop, "保温杯", 300, kind="goods")
    wash = reward(shop, "免费洗护一次", 250, kind="service")
    assert [r["name"] for r in shop.api.get("/membership/rewards", token=shop.chain.till).json] == ["免费洗护一次", "保温杯"]
    cid = shop.till.customer("13900139201")
    shop.till.sell(cid, "1000.00")  # ordinary: 1,000 points in one lot
    before = lots(shop, cid)
    made = redeem(shop, cid, cup, quantity=2)
    assert (made["reward"]["name"], made["points"], made["state"], made["stock_kept"]) == ("保温杯", 600, "redeemed", False)
    assert shop.till.member(cid)["points_balance"] == 400
    short = redeem(shop, cid, cup, quantity=2, expect=422)  # 600 > 400: refused, nothing written
    assert short["error"]["fields"]["points"] == ["The balance is 400 points; 600 were asked for."]
    assert [r["id"] for r in shop.api.get(f"/membership/members/{cid}/reward-redemptions", token=shop.chain.till).json] == [made["id"]]
    redeem(shop, cid, wash)
    assert shop.till.member(cid)["points_balance"] == 150

    staff = shop.api.post(f"/membership/reward-redemptions/{made['id']}/return", {"reason": "不要了"},
                          token=shop.chain.staff_token)
    assert staff.status_code == 403  # a manager takes a reward back
    back = shop.api.post(f"/membership/reward-redemptions/{made['id']}/return", {"reason": "不要了"},
                         token=shop.chain.manager_token)
    assert back.status_code == 200, back.json
    assert (back.json["state"], back.json["points_returned"], back.json["points_expired"]) == ("returned", 600, 0)
    assert shop.till.member(cid)["points_balance"] == 750
    assert lots(shop, cid) == [(1000, 750, before[0][2])]  # the same lot, the same expiry date
    assert ledger_sum(shop.app, cid) == (750, 750)
    again = shop.api.post(f"/membership/reward-redemptions/{made['id']}/return", {"reason": "again"},
                          token=shop.chain.manager_token)
    assert again.status_code == 409


def test_points_of_a_lot_that_expired_before_the_return_are_gone(shop):
    from core.extensions import db
    from plugins.membership.models import PointsEntry

    cup = reward(shop, "保温杯", 300)
    cid = shop.till.customer("13900139202")
    shop.till.sell(cid, "1000.00")
    made = redeem(shop, cid, cup)
    with shop.app.app_context():  # a year on: the lot's date has passed (the nightly job expires the rest)
        db.session.execute(update(PointsEntry).where(PointsEntry.customer_id == cid, PointsEntry.kind == "earn")
                           .values(expires_on=date(2020, 12, 31)))
        db.session.commit()
    back = shop.api.post(f"/membership/reward-redemptions/{made['id']}/return", {"reason": "退回"},
                         token=shop.chain.manager_token).json
    assert (back["points_returned"], back["points_expired"]) == (0, 300)
    # The lot's other 700 points are past their date too: what the member may spend is 0 at once,
    # whether or not the nightly job has written their expiry yet (the ledger still holds them).
    assert shop.till.member(cid)["points_balance"] == 0
    assert ledger_sum(shop.app, cid) == (700, 700)


def test_goods_leave_inventorys_stock_and_a_short_stock_refuses_the_whole_exchange(shop):
    from core.extensions import db
    from core.models import Product, Store
    from plugins.inventory.models import Stock
    from plugins.inventory.services.ledger import post_move

    cid = shop.till.customer("13900139203")
    shop.till.sell(cid, "1000.00")  # before inventory is on: 1,000 points
    enable(shop.app, "SH001", "inventory")
    r = _owner(shop).put("/stores/SH001/plugins/inventory/settings", {"allow_negative_stock": False})
    assert r.status_code == 200, r.json
    with shop.app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        beans = db.session.scalars(select(Product).where(Product.sku == "BEANS-1KG")).one()
        post_move(db.session, store, beans, kind="receipt", quantity=Decimal("3"), reason="到货",
                  default_safety=Decimal("0"))
        db.session.commit()
        store_id, product_id = store.id, beans.id

    def level():
        with shop.app.app_context():
            return db.session.scalar(select(Stock.quantity).where(Stock.store_id == store_id,
                                                                  Stock.product_id == product_id))

    r = _owner(shop).post("/membership/rewards", {"store": "SH001", "name": "错码", "points": 1, "sku": "NO-SUCH"})
    assert r.status_code == 400 and r.json["error"]["fields"]["sku"] == ["No product with SKU NO-SUCH in the catalogue."]
    bag = reward(shop, "咖啡豆一袋", 100, sku="BEANS-1KG")
    made = redeem(shop, cid, bag, quantity=2)
    assert made["stock_kept"] is True and level() == Decimal("1")
    refused = redeem(shop, cid, bag, quantity=2, expect=422)
    assert refused["error"]["fields"]["stock"] == ["Only 1 of BEANS-1KG in stock at SH001."]
    assert shop.till.member(cid)["points_balance"] == 800 and level() == Decimal("1")  # nothing of it written
    back = shop.api.post(f"/membership/reward-redemptions/{made['id']}/return", {"reason": "包装破损"},
                         token=shop.chain.manager_token)
    assert back.status_code == 200 and level() == Decimal("3")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # page rendering: the SQL is the same on both
def test_the_counter_exchanges_from_the_customer_page_by_name_and_a_manager_takes_it_back(shop):
    from tests.admin.conftest import login

    reward(shop, "帆布袋", 200)
    cid = shop.till.customer("13900139204", name="郑会员")
    shop.till.sell(cid, "1000.00")
    staff = shop.app.test_client()
    assert login(staff, "alice").status_code == 302
    page = staff.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert 'id="reward-redeem"' in page and "帆布袋" in page
    reward_id = page.split('name="reward_id"')[1].split('value="')[1].split('"')[0]  # the option the person picks
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = staff.post("/admin/membership/redemptions/redeem", data={"csrf_token": token, "customer_id": cid,
                                                                 "reward_id": reward_id, "quantity": "2"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/customers/{cid}")
    assert shop.till.member(cid)["points_balance"] == 600
    listing = staff.get("/admin/membership/redemptions/").get_data(as_text=True)
    assert "郑会员" in listing and "帆布袋" in listing
    assert staff.post("/admin/membership/redemptions/1/return", data={"csrf_token": token, "reason": "x"}).status_code == 403
    manager = shop.app.test_client()
    assert login(manager, "manager").status_code == 302
    page = manager.get("/admin/membership/redemptions/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    action = next(part.split('"')[0] for part in page.split('action="')[1:] if "/return" in part.split('"')[0])
    r = manager.post(action, data={"csrf_token": token, "reason": "不要了",
                                   "next": "/admin/membership/redemptions/"})
    assert r.status_code == 302
    assert shop.till.member(cid)["points_balance"] == 1000


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # plain SQL, the same on both backends
def test_export_merge_and_erasure_cover_the_redemptions(shop):
    from core.extensions import db
    from plugins.membership.rewards.models import RewardRedemption

    cup = reward(shop, "保温杯", 100)
    cid = shop.till.customer("13900139205", name="钱会员")
    other = shop.till.customer("13900139206", name="钱会员 (旧卡)")
    for who in (cid, other):
        shop.till.sell(who, "1000.00")
        redeem(shop, who, cup)
    export = shop.api.get(f"/customers/{cid}/export", token=shop.chain.manager_token).json["plugins"]["membership"]
    assert [(r["reward"], r["points"], r["state"]) for r in export["reward_redemptions"]] == [("保温杯", 100, "redeemed")]
    r = shop.api.post(f"/customers/{cid}/merge", {"merge_id": other}, token=shop.chain.manager_token)
    assert r.status_code == 200, r.json
    with shop.app.app_context():
        assert db.session.scalars(select(RewardRedemption.customer_id)).all() == [cid, cid]
    assert shop.api.delete(f"/customers/{cid}", token=shop.chain.manager_token).status_code == 200
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RewardRedemption)) == 0
