"""Values the spec forbids are refused (400 naming the field, nothing written), and a batch
answers each sale on its own whether it fails in validation, in a plugin's sale_validate or
in the database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text

from core.errors import Unprocessable
from core.extensions import db
from core.models import Customer, Product, Sale
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable

LATTE = {"sku": "LATTE-M", "quantity": 1}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def refused(response, field):
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert any(key.startswith(field) for key in response.json["error"]["fields"]), response.json
    return response.json["error"]["fields"]


def test_amounts_beyond_numeric_12_2_and_a_third_decimal_are_refused_never_rounded(app, api, chain):
    big = {"external_id": "big", "lines": [{"sku": "BEANS-1KG", "quantity": 99999, "unit_price": "9999999.00"}] * 50}
    refused(api.post("/sales", big, token=chain.till), "lines")
    fields = refused(api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": "1.005"}]},
                              token=chain.till), "lines.0.unit_price")
    assert fields["lines.0.unit_price"] == ["At most 2 decimals."]
    refused(api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": "0.0001"}]}, token=chain.till),
            "lines.0.quantity")
    refused(api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 100001}]}, token=chain.till),
            "lines.0.quantity")
    refused(api.post("/products", {"sku": "X", "name": "x", "price": "10.001"}, token=chain.owner_token), "price")
    assert count(app, Sale) == 0
    # 1.50 written with a trailing zero is two decimals: accepted as is.
    ok = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": "1.500"}]}, token=chain.till)
    assert ok.status_code == 201 and ok.json["total"] == "1.50"


def test_occurred_at_lies_between_2000_and_the_stores_clock_skew_ahead_of_now(app, api, chain):
    def at(moment):
        return api.post("/sales", {"occurred_at": moment, "lines": [LATTE]}, token=chain.till)

    refused(at("9999-12-31T23:59:59-12:00"), "occurred_at")
    refused(at("1999-12-31T23:59:59+00:00"), "occurred_at")
    tomorrow_and_a_bit = (datetime.now(timezone.utc) + timedelta(hours=25)).isoformat()
    refused(at(tomorrow_and_a_bit), "occurred_at")
    in_an_hour = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert at(in_an_hour).status_code == 201  # a till's clock a little fast
    with app.app_context():
        from core.models import Store

        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        store.sale_clock_ahead_minutes = 10
        db.session.commit()
    refused(at(in_an_hour), "occurred_at")
    assert count(app, Sale) == 1


def test_phones_with_letters_blank_names_and_large_payment_data_are_refused(app, api, chain):
    refused(api.post("/customers", {"name": "王芳", "phone": "13800abcdef"}, token=chain.till), "phone")
    refused(api.post("/customers", {"name": "   "}, token=chain.till), "name")
    refused(api.post("/customers", {"name": "\u200b\u200c\u2060\ufeff"}, token=chain.till), "name")
    refused(api.post("/products", {"sku": "Z", "name": " \u3000 ", "price": "1.00"}, token=chain.owner_token), "name")
    data = {"terminal": "x" * 3000}
    refused(api.post("/sales", {"lines": [LATTE], "payments": [{"method": "cash", "amount": "28.00", "data": data}]},
                     token=chain.till), "payments.0.data")
    assert count(app, Customer) == 0 and count(app, Sale) == 0
    # Fullwidth digits are a phone typed on a Chinese keyboard: the same person.
    first = api.post("/customers", {"name": "王芳", "phone": "１３８ ００１３ ８０００"}, token=chain.till)
    assert first.status_code == 201, first.json
    again = api.post("/customers", {"name": "王芳", "phone": "13800138000"}, token=chain.till)
    assert again.status_code == 409


class RefusesSome:
    """sale_validate: refuses receipts named "refused-*"; fails in the database on "db-*"."""

    @hookimpl
    def sale_validate(self, sale, customer, ctx):
        if (sale.external_id or "").startswith("refused"):
            raise Unprocessable("not today", fields={"lines": ["Refused by the test plugin."]})
        if (sale.external_id or "").startswith("db"):
            ctx.session.execute(text("SELECT no_such_column FROM no_such_table"))


def test_a_bad_sale_never_takes_the_batch_down(make_app):
    app = make_app(plugins=[Manifest(name="refuses_some", version="1", summary="x", hooks=RefusesSome())])
    chain = build_chain(app)
    enable(app, "SH001", "refuses_some")
    api = Api(app.test_client())
    batch = {"sales": [
        {"external_id": "good-1", "lines": [LATTE]},
        {"external_id": "invalid", "lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": "1.005"}]},
        {"external_id": "refused-1", "lines": [LATTE]},
        {"external_id": "db-1", "lines": [LATTE]},
        {"external_id": "huge", "lines": [{"sku": "BEANS-1KG", "quantity": 99999, "unit_price": "9999999.00"}] * 20},
        {"external_id": "future", "occurred_at": "9999-12-31T23:59:59-12:00", "lines": [LATTE]},
        {"external_id": "good-2", "lines": [LATTE], "customer": {"phone": "13800138000"}},
    ]}
    r = api.post("/sales/batch", batch, token=chain.till)
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert [x["status"] for x in results] == [201, 400, 422, 500, 400, 400, 201]
    assert results[1]["error"]["fields"] == {"lines.0.unit_price": ["At most 2 decimals."]}
    assert results[2]["error"]["fields"] == {"lines": ["Refused by the test plugin."]}
    assert results[3]["error"]["code"] == "internal_error"  # not the till's fault: it sends it again later
    with app.app_context():
        written = sorted(db.session.scalars(select(Sale.external_id)))
    assert written == ["good-1", "good-2"]
    # The till sends the batch again: the good ones are duplicates, nothing is written twice.
    again = api.post("/sales/batch", batch, token=chain.till).json["results"]
    assert [again[0]["status"], again[6]["status"]] == [200, 200]
    assert count(app, Sale) == 2 and count(app, Product) == 3
