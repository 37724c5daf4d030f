"""Campaigns fixtures: a chain with campaigns on in SH001, customers made the way a till and a
manager make them (API), and helpers to read what each customer received."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.conftest import Api, enable

FAST = {"send_rate_per_minute": 1_000_000, "quiet_start": "00:00", "quiet_end": "00:00"}


class Shop:
    def __init__(self, app, chain):
        self.app = app
        self.chain = chain
        self.api = Api(app.test_client())
        self._n = 0

    def settings(self, store_code="SH001", **values):
        from core.extensions import db
        from core.models import Store
        from core.services.store_plugins import update_settings

        with self.app.app_context():
            store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
            update_settings(db.session, store, "campaigns", values, actor="test")
            db.session.commit()

    def customer(self, name="顾客", *, email=True, consent=("email",), token=None, **fields) -> int:
        self._n += 1
        body = {"name": name, "phone": f"138{self._n:08d}", **fields}
        if email:
            body["email"] = f"c{self._n}@example.com"
        body["consents"] = [{"channel": ch, "granted": True, "source": "paper_form"} for ch in consent]
        r = self.api.post("/customers", body, token=token or self.chain.till)
        assert r.status_code == 201, r.json
        return r.json["id"]

    def sell(self, customer_id, amount="100.00", *, days_ago=0, token=None, expect=201, **extra) -> dict:
        self._n += 1
        body = {"external_id": f"s-{self._n}", "lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": amount}], **extra}
        if customer_id is not None:
            body["customer"] = {"id": customer_id}
        if days_ago:
            body["occurred_at"] = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()
        r = self.api.post("/sales", body, token=token or self.chain.till)
        assert r.status_code == expect, r.json
        return r.json

    def set_class(self, customer_id, final_class="loyal", lifecycle="active", store_code="SH001"):
        """What the nightly classification would have written for this customer in the store."""
        from core.classification.models import CustomerClass
        from core.extensions import db
        from core.models import Store, utcnow

        with self.app.app_context():
            store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
            row = db.session.get(CustomerClass, (customer_id, store.id))
            now = utcnow()
            if row is None:
                row = CustomerClass(customer_id=customer_id, scope_id=store.id, first_purchase_at=now, last_purchase_at=now,
                                    purchases_ever=5, purchases=5, amount=Decimal("500"), amount_class="high",
                                    frequency_class="high", r_score=3, f_score=4, m_score=4, rfm_segment="loyal_customers",
                                    computed_at=now, final_class=final_class, lifecycle=lifecycle)
                db.session.add(row)
            row.final_class, row.lifecycle = final_class, lifecycle
            db.session.commit()

    def messages(self, campaign_id=None, status="sent") -> dict[int, int]:
        """{customer_id: number of messages} in that state (of the campaign when given)."""
        from core.extensions import db
        from plugins.campaigns.models import Message

        with self.app.app_context():
            stmt = select(Message.customer_id, func.count()).where(Message.status == status)
            if campaign_id is not None:
                stmt = stmt.where(Message.campaign_id == campaign_id)
            return dict(db.session.execute(stmt.group_by(Message.customer_id)).all())

    def post(self, path, body, token=None, expect=None):
        r = self.api.post(path, {"store": "SH001", **body}, token=token or self.chain.manager_token)
        if expect is not None:
            assert r.status_code == expect, r.json
        return r

    def get(self, path, token=None, expect=None):
        sep = "&" if "?" in path else "?"
        r = self.api.get(f"{path}{sep}store=SH001", token=token or self.chain.manager_token)
        if expect is not None:
            assert r.status_code == expect, r.json
        return r


@pytest.fixture
def shop(app, chain):
    enable(app, "SH001", "campaigns")
    s = Shop(app, chain)
    s.settings(**FAST)
    return s


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free local port, keeping what it received."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        from tests.services import free_port

        self.received = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                outer.received.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.received if address in rcpt]

    def stop(self):
        self.controller.stop()


@pytest.fixture
def mailbox(app):
    box = Mailbox()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=box.port, SMTP_FROM="shop@example.com")
    yield box
    box.stop()
