"""Membership's `sale_validate`: a sale paying with more points than the member has is refused
with the API's 422 before anything is written; within the balance it goes through."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.plugins.membership.conftest import ledger_sum

CART = [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}]


def counts(app) -> tuple[int, int, int]:
    """(sales, sale_recorded events, customers) in the database."""
    from core.extensions import db
    from core.models import Customer, Event, Sale

    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Sale)),
                db.session.scalar(select(func.count()).select_from(Event).where(Event.name == "sale_recorded")),
                db.session.scalar(select(func.count()).select_from(Customer)))


def test_paying_with_more_points_than_the_balance_is_a_422_and_writes_nothing(shop):
    till = shop.till
    cid = till.customer("13600136001")
    till.sell(cid, "1000.00")  # a member with 1,000 points (¥10 at 100 points per yuan)
    before = counts(shop.app)
    r = till.sell(cid, lines=CART, payments=[{"method": "points", "amount": "10.01"}, {"method": "cash", "amount": "89.99"}],
                  expect=422)
    assert r == {"error": {"code": "unprocessable", "message": "only 1000 points available",
                           "fields": {"payments": ["The sale uses 1001 points; the balance is 1000 points."]},
                           "balance": 1000, "points": 1001}}
    assert counts(shop.app) == before
    assert till.member(cid)["points_balance"] == 1000 and ledger_sum(shop.app, cid) == (1000, 1000)


def test_an_unknown_phone_paying_with_points_is_refused_and_no_profile_is_created(shop):
    before = counts(shop.app)
    r = shop.api.post("/sales", {"external_id": "new-phone", "customer": {"phone": "13600136002"}, "lines": CART,
                                 "payments": [{"method": "points", "amount": "1.00", "data": {"points": 100}},
                                              {"method": "cash", "amount": "99.00"}]}, token=shop.chain.till)
    assert r.status_code == 422, r.json
    assert r.json["error"]["fields"] == {"payments": ["The sale uses 100 points; the balance is 0 points."]}
    assert counts(shop.app) == before  # no sale, no event, no customer made from the phone
    assert shop.api.get("/customers?q=13600136002", token=shop.chain.owner_token).json["items"] == []


def test_paying_with_the_whole_balance_goes_through_and_books_it_once(shop):
    till = shop.till
    cid = till.customer("13600136003")
    till.sell(cid, "1000.00")
    r = till.sell(cid, lines=CART, payments=[{"method": "points", "amount": "10.00"}, {"method": "cash", "amount": "90.00"}])
    effects = r["effects"]["membership"]
    assert (effects["points_redeemed"], effects["points_earned"], effects["balance"]) == (1000, 90, 90)
    assert ledger_sum(shop.app, cid) == (90, 90)


def test_a_refused_sale_in_a_batch_is_that_sales_422_and_the_others_are_kept(shop):
    till = shop.till
    cid = till.customer("13600136004")
    till.sell(cid, "1000.00")
    points = {"method": "points", "amount": "8.00", "data": {"points": 800}}
    sale = {"customer": {"id": cid}, "lines": CART, "payments": [points, {"method": "cash", "amount": "92.00"}]}
    r = shop.api.post("/sales/batch", {"sales": [{**sale, "external_id": "b-1"}, {**sale, "external_id": "b-2"},
                                                 {"external_id": "b-3", "customer": {"id": cid}, "lines": CART}]},
                      token=shop.chain.till)
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert [x["status"] for x in results] == [201, 422, 201]
    assert results[1]["error"]["fields"] == {"payments": ["The sale uses 800 points; the balance is 292 points."]}
    # 1,000 - 800 + 92 earned on b-1 + 100 earned on b-3; b-2 wrote nothing
    assert till.member(cid)["points_balance"] == 392 and ledger_sum(shop.app, cid) == (392, 392)


def test_a_store_without_membership_does_not_check_points(shop):
    """Points are membership's business: where it is off, the core keeps the sale as before."""
    r = shop.till_bj.sell(None, lines=CART, payments=[{"method": "points", "amount": "1.00"},
                                                      {"method": "cash", "amount": "99.00"}])
    assert r["total"] == "100.00"
