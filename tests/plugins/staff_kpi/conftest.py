"""staff_kpi fixtures: the test chain with staff_kpi on in SH001, and a tiny `stars` plugin that
contributes a metric through `kpi_metrics` / `kpi_metric_definitions` (as feedback will)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask_babel import lazy_gettext as _l

from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable

SHANGHAI = ZoneInfo("Asia/Shanghai")


class StarsHooks:
    """Every salesperson's average star rating: alice 4.5, anyone else 3; records the periods asked."""

    def __init__(self):
        self.periods = []

    @hookimpl
    def kpi_metric_definitions(self):
        return [{"name": "stars.avg_rating", "label": _l("Average rating"), "format": "decimal", "higher_is_better": True},
                {"name": "stars.on_time", "label": _l("Complaints handled on time"), "format": "percent",
                 "higher_is_better": True}]

    @hookimpl
    def kpi_metrics(self, staff, period, ctx):
        self.periods.append((staff.username, period))
        if staff.username == "alice":
            return {"avg_rating": Decimal("4.5"), "stars.on_time": Decimal("75.0")}
        return {"avg_rating": Decimal("3")}


def local(text: str) -> str:
    """'2026-10-05 10:00' on Shanghai's clock as an ISO time with offset, as a till sends it."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).isoformat()


class Till:
    def __init__(self, api: Api, token: str):
        self.api, self.token, self._n = api, token, 0

    def customer(self, phone: str, token: str | None = None) -> int:
        r = self.api.post("/customers", {"phone": phone, "name": "顾客"}, token=token or self.token)
        assert r.status_code == 201, r.json
        return r.json["id"]

    def sell(self, staff: str | None, when: str, lines, customer: int | None = None) -> dict:
        self._n += 1
        body = {"external_id": f"kpi-{self._n}", "occurred_at": local(when), "staff": staff,
                "lines": [{"sku": sku, "quantity": qty, **({"unit_price": price} if price else {})}
                          for sku, qty, price in lines]}
        if customer is not None:
            body["customer"] = {"id": customer}
        r = self.api.post("/sales", body, token=self.token)
        assert r.status_code == 201, r.json
        return r.json

    def refund(self, sale_id: int, lines=None) -> dict:
        body = {"reason": "test"}
        if lines:
            body["lines"] = [{"sku": sku, "quantity": qty} for sku, qty in lines]
        r = self.api.post(f"/sales/{sale_id}/refunds", body, token=self.token)
        assert r.status_code == 201, r.json
        return r.json


@pytest.fixture
def kpi(make_app):
    return build_kpi(make_app)


def build_kpi(make_app, **config):
    hooks = StarsHooks()
    app = make_app(plugins=[Manifest(name="stars", version="1", summary="Stars", hooks=hooks)], **config)
    chain = build_chain(app)
    with app.app_context():  # a product the catalogue has no cost for
        from core.extensions import db
        from core.models import Product

        db.session.add(Product(sku="GIFT-BOX", name="礼盒", category="gift", brand="house", price=Decimal("100.00")))
        db.session.commit()
    enable(app, "SH001", "staff_kpi", "stars")
    api = Api(app.test_client())
    return SimpleNamespace(app=app, chain=chain, api=api, till=Till(api, chain.till), stars=hooks)


def set_refund_attribution(app, value: str) -> None:
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import update_settings

    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        update_settings(db.session, store, "staff_kpi", {"refund_attribution": value}, actor="test")
        db.session.commit()


def backdate_refund(app, refund_id: int, when: str) -> None:
    """A refund's time is the server's clock; tests of past months move it as if it happened then."""
    from core.extensions import db
    from core.models import Refund
    from plugins.staff_kpi.services import rollup

    with app.app_context():
        refund = db.session.get(Refund, refund_id)
        refund.created_at = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
        db.session.flush()
        rollup.rebuild_history(db.session, refund.sale.store)  # what the nightly job / a rebuild does
        db.session.commit()


def rows_by_user(doc: dict) -> dict:
    return {r["username"]: r for r in doc["rows"]}
