"""Feedback fixtures: the test chain with feedback on in SH001, and a tiny `messenger` plugin
that takes the requests feedback makes through hooks (customer and staff notifications,
coupons) the way campaigns will, recording what it was asked."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable

PASSWORD = "correct horse battery"


class Messenger:
    """Owns message channels and coupons in the stores that enable it (campaigns' role)."""

    def __init__(self):
        self.customer_messages = []
        self.staff_messages = []
        self.coupons = []
        self.slow = 0.0

    @hookimpl
    def customer_notification(self, customer, topic, data, ctx):
        self.customer_messages.append((customer.id, topic, dict(data)))
        return True

    @hookimpl
    def staff_notification(self, users, topic, data, ctx):
        if self.slow:
            import time

            time.sleep(self.slow)  # holds the job's transaction open: the other worker must wait
        self.staff_messages.append(([u.username for u in users], topic, dict(data)))
        return True

    @hookimpl
    def issue_coupon(self, customer, spec, ctx):
        self.coupons.append((customer.id, dict(spec)))
        return {"code": f"SORRY{len(self.coupons):03d}", "label": f"¥{spec['value']} off", "expires_on": "2027-01-31"}

    @hookimpl
    def demo_seed(self, store, rng, today, ctx):
        # Contract check for `demo_seed`: the demo calls every enabled implementer once per store.
        self.coupons.append(("demo", store.code, today.isoformat()))


def messenger_plugin():
    hooks = Messenger()
    return Manifest(name="messenger", version="1", summary="test channels", hooks=hooks), hooks


@pytest.fixture
def shop(make_app):
    """Feedback on in SH001 (no channel plugin there unless `shop.with_messenger()`)."""
    manifest, messenger = messenger_plugin()
    app = make_app(plugins=[manifest])
    chain = build_chain(app)
    enable(app, "SH001", "feedback")
    api = Api(app.test_client())

    def with_messenger(store="SH001"):
        enable(app, store, "messenger")
        return messenger

    return SimpleNamespace(app=app, chain=chain, api=api, messenger=messenger, with_messenger=with_messenger)


def customer(shop, phone="13800138001", name="顾客", token=None) -> int:
    r = shop.api.post("/customers", {"phone": phone, "name": name}, token=token or shop.chain.till)
    assert r.status_code == 201, r.json
    return r.json["id"]


def sale(shop, customer_id, external_id, token=None, staff=None) -> dict:
    body = {"external_id": external_id, "customer": {"id": customer_id},
            "lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": "28.00"}],
            "payments": [{"method": "cash", "amount": "28.00"}]}
    if staff:
        body["staff"] = staff
    r = shop.api.post("/sales", body, token=token or shop.chain.till)
    assert r.status_code == 201, r.json
    return r.json


def complain(shop, customer_id=None, token=None, expect=201, **fields) -> dict:
    body = {"category": "service_attitude", "description": "等了很久没人理", **fields}
    if customer_id is not None:
        body["customer_id"] = customer_id
    r = shop.api.post("/feedback/complaints", body, token=token or shop.chain.manager_token)
    assert r.status_code == expect, r.json
    return r.json


def move(shop, complaint_id, to, token=None, expect=200, **body) -> dict:
    r = shop.api.post(f"/feedback/complaints/{complaint_id}/transitions", {"to": to, **body},
                      token=token or shop.chain.manager_token)
    assert r.status_code == expect, r.json
    return r.json


def login(app, username: str):
    client = app.test_client()
    r = client.post("/admin/login", data={"username": username, "password": PASSWORD})
    assert r.status_code in (302, 303), r.data[:300]
    return client


def run_in_app(app, func, *args, **kwargs):
    with app.app_context():
        from core.extensions import db

        try:
            return func(db.session, *args, **kwargs)
        finally:
            db.session.remove()


TODAY = date(2026, 11, 30)
