"""Inventory fixtures: a chain with inventory on in SH001 (and BJ001 where a test says so)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.conftest import Api, enable


class Shop:
    """What the tills and a manager do: sell, refund, receive, adjust, read stock."""

    def __init__(self, app, chain):
        self.app = app
        self.chain = chain
        self.api = Api(app.test_client())
        self._n = 0

    def sell(self, sku: str, quantity, *, token=None, expect=201, **extra) -> dict:
        self._n += 1
        body = {"external_id": extra.pop("external_id", f"inv-{self._n}"),
                "lines": [{"sku": sku, "quantity": quantity}], **extra}
        r = self.api.post("/sales", body, token=token or self.chain.till)
        assert r.status_code == expect, r.json
        return r.json

    def refund(self, sale_id: int, sku: str, quantity, expect=201) -> dict:
        r = self.api.post(f"/sales/{sale_id}/refunds", {"reason": "test", "lines": [{"sku": sku, "quantity": quantity}]},
                          token=self.chain.till)
        assert r.status_code == expect, r.json
        return r.json

    def move(self, sku: str, quantity, kind="receipt", reason="delivery", token=None, expect=201, **extra) -> dict:
        r = self.api.post("/inventory/moves", {"sku": sku, "kind": kind, "quantity": str(quantity), "reason": reason,
                                               **extra}, token=token or self.chain.manager_token)
        assert r.status_code == expect, r.json
        return r.json

    def stock(self, sku: str, token=None) -> dict:
        r = self.api.get(f"/inventory/stock?sku={sku}", token=token or self.chain.till)
        assert r.status_code == 200, r.json
        return r.json["items"][0] if r.json["items"] else None

    def level(self, sku: str) -> Decimal:
        row = self.stock(sku)
        return Decimal(row["level"]) if row else Decimal(0)

    def settings(self, store="SH001", **values) -> None:
        r = self.api.put(f"/stores/{store}/plugins/inventory/settings", values, token=self.chain.owner_token)
        assert r.status_code == 200, r.json


def ledger(app, store_code: str, sku: str) -> tuple[Decimal, Decimal]:
    """(running total, sum of the moves) of a product in a store."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Product, Store
    from plugins.inventory.models import Stock
    from plugins.inventory.services.ledger import ledger_level

    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
        product = db.session.scalars(select(Product).where(Product.sku == sku)).one()
        stock = db.session.get(Stock, (store.id, product.id))
        return (Decimal(stock.quantity) if stock else Decimal(0)), ledger_level(db.session, store.id, product.id)


@pytest.fixture
def shop(app, chain):
    enable(app, "SH001", "inventory")
    return Shop(app, chain)


__all__ = ["Shop", "ledger", "SimpleNamespace"]
