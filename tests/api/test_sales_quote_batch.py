"""/sales/quote with a plugin's adjustment, /sales with effects, /sales/batch, GET /sales/{id}."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer, Sale
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable


class TenPercentOffCake:
    """A tiny promotion plugin: 10% off cake lines, more for a known customer."""

    @hookimpl
    def sale_quote(self, cart, customer, ctx):
        cake = sum((line["amount"] for line in cart["lines"] if line["category"] == "cake"), Decimal("0"))
        if not cake:
            return None
        rate = Decimal("0.20") if customer is not None else Decimal("0.10")
        return [{"source": "promo", "code": "cake", "label": "蛋糕优惠", "amount": -(cake * rate).quantize(Decimal("0.01")),
                 "data": {"rate": str(rate)}}]

    @hookimpl
    def sale_result(self, sale, ctx):
        return {"promo_total": str(sum((a.amount for a in sale.adjustments if a.source == "promo"), Decimal("0")))}


def promo_app(make_app):
    app = make_app(plugins=[Manifest(name="promo", version="1.0", summary="cake promo", hooks=TenPercentOffCake())])
    chain = build_chain(app)
    enable(app, "SH001", "promo")
    return app, chain, Api(app.test_client(), token=chain.till)


def test_quote_returns_the_plugins_adjustments_and_writes_nothing(make_app):
    app, chain, api = promo_app(make_app)
    cart = {"lines": [{"sku": "LATTE-M", "quantity": 1}, {"sku": "CAKE-CHOC", "quantity": 2}]}
    r = api.post("/sales/quote", cart)
    assert r.status_code == 200, r.json
    assert r.json["subtotal"] == "98.00" and r.json["total"] == "91.00"
    assert r.json["adjustments"] == [{"source": "promo", "code": "cake", "label": "蛋糕优惠", "amount": "-7.00",
                                      "data": {"rate": "0.10"}}]
    r = api.post("/sales/quote", {**cart, "customer": {"phone": "13800138000"}})
    assert r.json["total"] == "91.00"  # an unknown phone is no customer yet, and none is created
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
    # the till records the sale with what the quote said; the answer carries the plugin's effects
    quote = r.json
    r = api.post("/sales", {**cart, "external_id": "q-1", "adjustments": quote["adjustments"],
                            "payments": [{"method": "cash", "amount": quote["total"]}]})
    assert r.status_code == 201, r.json
    assert r.json["total"] == "91.00" and r.json["effects"] == {"promo": {"promo_total": "-7.00"}}
    # in a store without the plugin the quote has no adjustments
    r = api.post("/sales/quote", cart, token=chain.till_bj)
    assert r.json["adjustments"] == [] and r.json["total"] == "98.00"
    r = api.post("/sales/quote", {"lines": [{"sku": "NOPE", "quantity": 1}]})
    assert r.status_code == 400 and "lines.0.sku" in r.json["error"]["fields"]


def test_quote_for_a_known_customer(make_app):
    app, chain, api = promo_app(make_app)
    customer = api.post("/customers", {"name": "王芳", "phone": "13800138000"}).json
    cart = {"lines": [{"sku": "CAKE-CHOC", "quantity": 1}]}
    assert api.post("/sales/quote", {**cart, "customer": {"phone": "138 0013 8000"}}).json["total"] == "28.00"
    assert api.post("/sales/quote", {**cart, "customer": {"id": customer["id"]}}).json["total"] == "28.00"


def test_batch_of_offline_sales_gives_one_result_per_sale(app, api, chain):
    line = {"sku": "LATTE-M", "quantity": 1}
    batch = {"sales": [
        {"external_id": "off-1", "lines": [line], "occurred_at": "2026-11-20T09:00:00+08:00"},
        {"external_id": "off-2", "lines": [{"sku": "NOPE", "quantity": 1}]},
        {"external_id": "off-3", "lines": [{"sku": "LATTE-M", "quantity": 0}]},
        {"external_id": "off-4", "lines": [line], "adjustments": [{"source": "m", "code": "x", "amount": "-99.00"}]},
        # the same receipt again, the same sale (with another sale it is a 422, issue 24)
        {"external_id": "off-1", "lines": [line], "occurred_at": "2026-11-20T01:00:00Z"},
        {"external_id": "off-5", "lines": [line], "customer": {"phone": "13800138000"}},
    ]}
    r = api.post("/sales/batch", batch, token=chain.till)
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert [x["status"] for x in results] == [201, 400, 400, 422, 200, 201]
    assert results[4]["id"] == results[0]["id"]
    assert "lines.0.sku" in results[1]["error"]["fields"] and "lines.0.quantity" in results[2]["error"]["fields"]
    # posting the whole batch again (the till did not get the answer) records nothing twice
    again = api.post("/sales/batch", batch, token=chain.till).json["results"]
    assert [x["status"] for x in again] == [200, 400, 400, 422, 200, 200]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 2
    sale = api.get(f"/sales/{results[0]['id']}", token=chain.till).json
    assert sale["occurred_at"].startswith("2026-11-20T01:00:00") and sale["total"] == "28.00"
    r = api.post("/sales/batch", {"sales": []}, token=chain.till)
    assert r.status_code == 400 and "sales" in r.json["error"]["fields"]
    r = api.post("/sales/batch", {"store": "SH001", "sales": [{"lines": [line]}]}, token=chain.till_bj)
    assert r.status_code == 403


def test_a_sale_with_payments_that_do_not_add_up_is_refused(api, chain):
    r = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}], "payments": [{"method": "cash", "amount": "20.00"}]},
                 token=chain.till)
    assert r.status_code == 400 and "payments" in r.json["error"]["fields"]
    r = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}], "staff": "bob"}, token=chain.till)
    assert r.status_code == 400 and "staff" in r.json["error"]["fields"]
    # an unknown customer id is "not found", the same answer as another store's customer (issue 11)
    r = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}], "customer": {"id": 987654}}, token=chain.till)
    assert r.status_code == 404 and "customer.id" in r.json["error"]["fields"]


class BrokenPerks:
    """A plugin whose quote and result fail the way real ones do: a bug, a database error, a rule."""

    @hookimpl
    def sale_quote(self, cart, customer, ctx):
        if cart["options"].get("redeem_points"):
            from core.errors import Unprocessable

            raise Unprocessable("not enough points", fields={"options.redeem_points": ["Balance is 0."]})
        raise KeyError("tier")

    @hookimpl
    def sale_result(self, sale, ctx):
        from sqlalchemy import text

        ctx.session.execute(text("SELECT no_such_column FROM sale"))


def test_a_broken_plugin_does_not_block_the_till(make_app):
    app = make_app(plugins=[Manifest(name="broken", version="1", summary="x", hooks=BrokenPerks()),
                            Manifest(name="promo", version="1", summary="x", hooks=TenPercentOffCake())])
    chain = build_chain(app)
    enable(app, "SH001", "broken", "promo")
    api = Api(app.test_client(), token=chain.till)
    cart = {"lines": [{"sku": "CAKE-CHOC", "quantity": 1}]}
    r = api.post("/sales/quote", cart)
    assert r.status_code == 200, r.json
    assert r.json["unavailable"] == ["broken"] and r.json["total"] == "31.50"
    # a plugin's deliberate refusal is the till's answer
    r = api.post("/sales/quote", {**cart, "options": {"redeem_points": 500}})
    assert r.status_code == 422 and "options.redeem_points" in r.json["error"]["fields"]
    # a sale_result that hits a database error: the sale stands and the other plugins still answer
    r = api.post("/sales", {**cart, "external_id": "b-1"})
    assert r.status_code == 201, r.json
    assert r.json["effects"]["broken"] == {"error": "not available; the delivery will be retried"}
    assert r.json["effects"]["promo"] == {"promo_total": "0"}
    assert api.get(f"/sales/{r.json['id']}").json["total"] == "35.00"
