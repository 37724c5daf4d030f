"""Issue 19's three reproductions, refused with a 422 and nothing written; refunds grouped per
sale line (by SKU or line id) and backed by CHECK constraints; staff line discounts bounded."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import Api, enable


def counts(app):
    from core.extensions import db
    from core.models import Refund, Sale

    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Sale)),
                db.session.scalar(select(func.count()).select_from(Refund)))


@pytest.fixture
def member(app, chain):
    """SH001 with membership; a member (not born today) with 1,000 points."""
    enable(app, "SH001", "membership")
    api = Api(app.test_client(), token=chain.till)
    cid = api.post("/customers", {"name": "王芳", "phone": "13900139111"}).json["id"]  # no birthday: no double points
    # yesterday: points earned long ago would have expired (membership's expiry is a fact of the date)
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).isoformat(timespec="seconds")
    r = api.post("/sales", {"customer": {"id": cid}, "occurred_at": yesterday,
                            "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "1000.00"}]})
    assert r.status_code == 201, r.json
    return api, cid


def test_a_refund_naming_one_sku_twice_returns_what_was_paid_and_no_more(app, chain):
    api = Api(app.test_client(), token=chain.till)
    sale = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 2}]}).json
    twice = {"lines": [{"sku": "LATTE-M", "quantity": 1}, {"sku": "LATTE-M", "quantity": 1}]}
    r = api.post(f"/sales/{sale['id']}/refunds", twice)
    assert r.status_code == 201, r.json
    assert (r.json["amount"], r.json["sale"]["refunded_total"], r.json["sale"]["status"]) == ("56.00", "56.00", "refunded")
    r = api.post(f"/sales/{sale['id']}/refunds", twice)
    assert r.status_code == 422 and r.json["error"]["fields"] == {"lines.0.quantity": ["Only 0 left to refund."],
                                                                 "lines.1.quantity": ["Only 0 left to refund."]}
    assert counts(app) == (1, 1)


def test_refund_lines_by_line_id_and_sku_are_grouped_per_sale_line(app, chain):
    api = Api(app.test_client(), token=chain.till)
    sale = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 2}, {"sku": "LATTE-M", "quantity": 1, "discount": "8.00"},
                                         {"sku": "CAKE-CHOC", "quantity": 1}]}).json
    first, second, cake = (line["id"] for line in sale["lines"])
    # the second latte line by id and two lattes by SKU: three, but the SKU ones only find the first line's two
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"sku": "LATTE-M", "quantity": 2}, {"line_id": second, "quantity": 1},
                                                             {"sku": "LATTE-M", "quantity": 1}]})
    assert r.status_code == 422 and r.json["error"]["fields"] == {"lines.2.quantity": ["Only 0 left to refund."]}
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"sku": "LATTE-M", "quantity": 2}, {"line_id": second, "quantity": 1}]})
    assert r.status_code == 201, r.json
    assert r.json["amount"] == "76.00"  # 2 × 28 + (28 − 8): each line gives back what it took
    assert [(l["id"], l["refunded_quantity"]) for l in r.json["sale"]["lines"]] == [(first, 2), (second, 1), (cake, 0)]
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"line_id": 999999, "quantity": 1}]})
    assert r.status_code == 422 and r.json["error"]["fields"] == {"lines.0.line_id": ["Line 999999 is not on this sale."]}
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"line_id": cake, "sku": "CAKE-CHOC", "quantity": 1}]})
    assert r.status_code == 400


def test_a_refund_gives_back_each_line_its_share_of_the_sales_discount(member, app):
    api, cid = member
    cart = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "20.00"}, {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "30.00"}]
    sale = api.post("/sales", {"customer": {"id": cid}, "lines": cart, "options": {"redeem_points": 1000}}).json
    assert sale["total"] == "40.00" and [a["amount"] for a in sale["adjustments"]] == ["-10.00"]
    cake = sale["lines"][1]["id"]
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"line_id": cake, "quantity": 1}, {"sku": "CAKE-CHOC", "quantity": 1}]})
    assert r.status_code == 422  # the one cake, named twice
    r = api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"line_id": cake, "quantity": 1}]})
    assert r.json["amount"] == "24.00"  # ¥30 less its 60% share of the ¥10 off
    assert api.post(f"/sales/{sale['id']}/refunds", {}).json["amount"] == "16.00"


def test_the_database_refuses_a_refund_beyond_the_sale_whoever_writes_it(app, chain):
    from core.extensions import db
    from core.models import Sale, SaleLine

    api = Api(app.test_client(), token=chain.till)
    sale = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 2}]}).json
    with app.app_context():
        for stmt in (update(SaleLine).where(SaleLine.sale_id == sale["id"]).values(refunded_quantity=3),
                     update(SaleLine).where(SaleLine.sale_id == sale["id"]).values(refunded_amount=Decimal("56.01")),
                     update(Sale).where(Sale.id == sale["id"]).values(refunded_total=Decimal("84.00"))):
            with pytest.raises(IntegrityError):
                db.session.execute(stmt)
                db.session.flush()
            db.session.rollback()


def test_a_redemption_priced_by_the_till_is_refused_and_nothing_is_written(member, app):
    api, cid = member
    before = counts(app)
    body = {"customer": {"id": cid}, "lines": [{"sku": "BEANS-1KG", "quantity": 1}],
            "adjustments": [{"source": "membership", "code": "points", "amount": "-500.00", "data": {"points": 1}}]}
    r = api.post("/sales", body)
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {"adjustments.0": [
        "membership/points -500.00 is not what membership gives this sale: it gives nothing of the kind."]}
    r = api.post("/sales", {**body, "options": {"redeem_points": 1}})
    assert r.json["error"]["fields"] == {"adjustments.0": [
        "membership/points -500.00 is not what membership gives this sale: it gives membership/points -0.01."]}
    # asking is how: the options alone get the computed redemption, capped and priced by the program
    r = api.post("/sales", {"customer": {"id": cid}, "lines": body["lines"], "options": {"redeem_points": 5000}})
    assert (r.status_code, r.json["error"]["fields"]) == (422, {"options.redeem_points": [
        "The balance is 1000 points; 5000 were asked for."]})  # more than the balance is refused, naming it
    r = api.post("/sales", {"customer": {"id": cid}, "lines": body["lines"], "options": {"redeem_points": 1000}})
    assert r.status_code == 201, r.json
    assert ([(a["code"], a["amount"], a["data"]["points"]) for a in r.json["adjustments"]], r.json["total"]) == (
        [("points", "-10.00", 1000)], "1190.00")
    assert r.json["effects"]["membership"]["points_redeemed"] == 1000
    assert counts(app) == (before[0] + 1, before[1])


def test_a_birthday_discount_no_rule_grants_is_refused(member, app):
    api, cid = member
    before = counts(app)
    r = api.post("/sales", {"customer": {"id": cid}, "lines": [{"sku": "BEANS-1KG", "quantity": 1}],
                            "adjustments": [{"source": "membership", "code": "birthday", "amount": "-1199.00"}]})
    assert r.status_code == 422 and list(r.json["error"]["fields"]) == ["adjustments.0"]
    assert counts(app) == before


def test_points_as_payment_cost_what_they_are_worth_within_the_cap(member, app):
    api, cid = member
    lines = [{"sku": "CAKE-CHOC", "quantity": 2}]  # ¥70
    cheat = {"customer": {"id": cid}, "lines": lines,
             "payments": [{"method": "points", "amount": "35.00", "data": {"points": 1}}, {"method": "cash", "amount": "35.00"}]}
    r = api.post("/sales", cheat)
    assert r.status_code == 422  # ¥35 in points is 3,500 points; the member has 1,000
    assert r.json["error"]["fields"] == {"payments": ["The sale uses 3500 points; the balance is 1000 points."]}
    over_cap = {**cheat, "payments": [{"method": "points", "amount": "35.01"}, {"method": "cash", "amount": "34.99"}]}
    assert api.post("/sales", over_cap).json["error"]["fields"]["payments"][0].startswith("Points may pay at most 35.00")
    r = api.post("/sales", {**cheat, "payments": [{"method": "points", "amount": "10.00", "data": {"points": 1}},
                                                  {"method": "cash", "amount": "60.00"}]})
    assert r.status_code == 201 and r.json["effects"]["membership"]["points_redeemed"] == 1000


def test_staff_line_discounts_are_bounded_by_the_store_setting_and_the_role(app, chain):
    owner = Api(app.test_client(), token=chain.owner_token)
    r = owner.patch("/stores/SH001", {"staff_discount_limit_percent": "10", "manager_discount_limit_percent": "30"})
    assert r.status_code == 200 and (r.json["staff_discount_limit_percent"], r.json["manager_discount_limit_percent"]) == (
        "10.00", "30.00")
    assert Api(app.test_client(), token=chain.manager_token).patch("/stores/SH001", {"name": "x"}).status_code == 403
    line = {"sku": "LATTE-M", "quantity": 2}  # ¥56 at catalogue price
    till = Api(app.test_client(), token=chain.till)
    assert till.post("/sales", {"lines": [{**line, "discount": "5.60"}]}).status_code == 201  # 10%
    r = till.post("/sales", {"lines": [{**line, "discount": "5.61"}]})
    assert r.status_code == 422 and r.json["error"]["fields"] == {"lines.0.discount": [
        "A discount of 5.61 on 56.00 is more than the 10% you may give in this store."]}
    assert till.post("/sales", {"lines": [{**line, "unit_price": "25.00"}]}).status_code == 422  # a lower price is a discount too
    staff = Api(app.test_client(), token=chain.staff_token)
    assert staff.post("/sales", {"store": "SH001", "lines": [{**line, "discount": "10.00"}]}).status_code == 422
    manager = Api(app.test_client(), token=chain.manager_token)
    assert manager.post("/sales", {"store": "SH001", "lines": [{**line, "discount": "16.80"}]}).status_code == 201  # 30%
    assert manager.post("/sales", {"store": "SH001", "lines": [{**line, "discount": "16.81"}]}).status_code == 422
    assert owner.post("/sales", {"store": "SH001", "lines": [{**line, "discount": "50.00"}]}).status_code == 201
    # BJ001 set no limit
    assert Api(app.test_client(), token=chain.till_bj).post("/sales", {"lines": [{**line, "discount": "50.00"}]}).status_code == 201
