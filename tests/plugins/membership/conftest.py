"""Membership fixtures: a chain with membership on in SH001 (and BJ001 where a test says so)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import Api, enable


class Till:
    """What a till does: create customers, post sales and refunds, read the member."""

    def __init__(self, api: Api, token: str):
        self.api = api
        self.token = token
        self._n = 0

    def customer(self, phone: str, **fields) -> int:
        r = self.api.post("/customers", {"phone": phone, "name": fields.pop("name", "测试"), **fields}, token=self.token)
        assert r.status_code == 201, r.json
        return r.json["id"]

    def sell(self, customer_id: int | None, amount: str | None = None, *, lines=None, expect=201, **extra) -> dict:
        """A sale of `amount` yuan (one line at that price) or of the given lines."""
        self._n += 1
        body = {"external_id": extra.pop("external_id", f"t-{id(self)}-{self._n}"),
                "lines": lines or [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": amount}], **extra}
        if customer_id is not None:
            body["customer"] = {"id": customer_id}
        r = self.api.post("/sales", body, token=self.token)
        assert r.status_code == expect, r.json
        return r.json

    def refund(self, sale_id: int, lines=None, expect=201) -> dict:
        body = {"reason": "test"}
        if lines:
            body["lines"] = lines
        r = self.api.post(f"/sales/{sale_id}/refunds", body, token=self.token)
        assert r.status_code == expect, r.json
        return r.json

    def member(self, customer_id: int) -> dict:
        r = self.api.get(f"/membership/members/{customer_id}", token=self.token)
        assert r.status_code == 200, r.json
        return r.json

    def quote(self, customer_id: int | None, lines, **options) -> dict:
        body = {"lines": lines, "options": options}
        if customer_id is not None:
            body["customer"] = {"id": customer_id}
        r = self.api.post("/sales/quote", body, token=self.token)
        assert r.status_code == 200, r.json
        return r.json


@pytest.fixture
def shop(app, chain):
    """Membership on in SH001 only; `shop.till` posts as SH001's till."""
    enable(app, "SH001", "membership")
    allow_sales_dated_ahead(app, "SH001", days=3 * 366)
    api = Api(app.test_client())
    return SimpleNamespace(app=app, chain=chain, api=api, till=Till(api, chain.till), till_bj=Till(api, chain.till_bj))


def allow_sales_dated_ahead(app, store_code: str, days: int) -> None:
    """Some rules are tried on dates to come (a birthday, the 8th of next month): widen the
    store's allowed clock skew (1 day by default, docs/rules.md) so such sales are taken."""
    from sqlalchemy import update

    from core.extensions import db
    from core.models import Store

    with app.app_context():
        db.session.execute(update(Store).where(Store.code == store_code).values(sale_clock_ahead_minutes=days * 24 * 60))
        db.session.commit()


def program(app, **values) -> None:
    """Set chain-wide program rules directly (what an owner does with PATCH /program)."""
    from core.extensions import db
    from plugins.membership.services import update_program

    with app.app_context():
        update_program(db.session, values)
        db.session.commit()


def ledger_sum(app, customer_id: int) -> tuple[int, int]:
    """(cached balance, sum of the ledger) for a customer."""
    from core.extensions import db
    from plugins.membership.models import Member
    from plugins.membership.services import ledger_balance

    with app.app_context():
        member = db.session.get(Member, customer_id)
        return (member.points_balance if member else 0), ledger_balance(db.session, customer_id)


__all__ = ["Till", "ledger_sum", "program"]
