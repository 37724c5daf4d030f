"""`sale_validate`: a plugin enabled in the store sees each sale before it is written and can
refuse it with the API's error (nothing written); a plugin that breaks does not stop the till."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import func, select

from core.errors import Unprocessable
from core.extensions import db
from core.models import Customer, Event, Sale
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable


class CreditLimit:
    """Refuses a sale paid on credit above ¥200; records what it was shown."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def sale_validate(self, sale, customer, ctx):
        self.seen.append((ctx.store.code, sale.id, customer.name if customer else None, sale.total))
        on_credit = sum((p.amount for p in sale.payments if p.method == "credit"), Decimal("0"))
        if on_credit > Decimal("200.00"):
            raise Unprocessable("over the credit limit", fields={"payments": [f"¥{on_credit} on credit; the limit is ¥200."]})


class Broken:
    @hookimpl
    def sale_validate(self, sale, customer, ctx):
        raise KeyError("limits")


def make(make_app):
    limit = CreditLimit()
    app = make_app(plugins=[Manifest(name="credit_limit", version="1", summary="x", hooks=limit),
                            Manifest(name="broken", version="1", summary="x", hooks=Broken())])
    return app, build_chain(app), limit


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Sale)),
                db.session.scalar(select(func.count()).select_from(Event)),
                db.session.scalar(select(func.count()).select_from(Customer)))


def sale(external_id, credit, phone="13800138000"):
    return {"external_id": external_id, "customer": {"phone": phone, "name": "王芳"},
            "lines": [{"sku": "LATTE-M", "quantity": 10}],  # ¥280
            "payments": [{"method": "credit", "amount": credit},
                         {"method": "cash", "amount": str(Decimal("280.00") - Decimal(credit))}]}


def test_a_refusing_plugin_answers_the_till_and_nothing_is_written(make_app):
    app, chain, limit = make(make_app)
    enable(app, "SH001", "credit_limit")
    api = Api(app.test_client())
    before = counts(app)
    r = api.post("/sales", sale("s-1", "250.00"), token=chain.till)
    assert r.status_code == 422
    assert r.json == {"error": {"code": "unprocessable", "message": "over the credit limit",
                                "fields": {"payments": ["¥250.00 on credit; the limit is ¥200."]}}}
    assert counts(app) == before  # no sale, no event, and the phone made no profile
    assert limit.seen == [("SH001", None, "王芳", Decimal("280.00"))]  # built and checked, not yet flushed
    r = api.post("/sales", sale("s-1", "200.00"), token=chain.till)
    assert r.status_code == 201 and r.json["total"] == "280.00"
    # where the plugin is off it is not asked
    assert api.post("/sales", sale("bj-1", "280.00"), token=chain.till_bj).status_code == 201
    assert [s[0] for s in limit.seen] == ["SH001", "SH001"]


def test_a_refused_sale_in_a_batch_is_that_sales_result(make_app):
    app, chain, _ = make(make_app)
    enable(app, "SH001", "credit_limit")
    r = Api(app.test_client()).post("/sales/batch", {"sales": [sale("b-1", "100.00"), sale("b-2", "280.00"),
                                                               sale("b-3", "0.00")]}, token=chain.till)
    assert [x["status"] for x in r.json["results"]] == [201, 422, 201]
    assert r.json["results"][1]["error"]["fields"] == {"payments": ["¥280.00 on credit; the limit is ¥200."]}
    assert counts(app)[0] == 2


def test_a_plugin_whose_check_breaks_is_logged_and_the_sale_goes_through(make_app, caplog):
    app, chain, _ = make(make_app)
    enable(app, "SH001", "broken")
    with caplog.at_level(logging.ERROR, logger="core.services.sales"):
        r = Api(app.test_client()).post("/sales", sale("s-2", "280.00"), token=chain.till)
    assert r.status_code == 201, r.json
    assert counts(app)[0] == 1
    assert any("sale_validate of broken failed" in rec.getMessage() and "limits" in rec.exc_text
               for rec in caplog.records if rec.exc_text)
