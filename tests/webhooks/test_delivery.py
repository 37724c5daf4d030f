"""Webhooks end to end: a real receiver on 127.0.0.1, the app's own outbox and sender.

What an integrator relies on: every request is signed (checked with the snippet docs/webhooks.md
gives), a customer's events arrive in the order they happened, a 500 is retried and holds that
customer's later events back, a delivery still failing after the retry window is marked failed
and can be replayed, and the payload masks personal data unless the owner asked otherwise."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
PHONE = "138 0013 8000"
ALLOW = {"WEBHOOKS_ALLOW_PRIVATE_URLS": True, "WEBHOOK_BACKOFF_SECONDS": 0}


def documented_verify():
    """The verification function docs/webhooks.md tells integrators to copy, run as written."""
    text = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    code = re.search(r"## Verifying a delivery.*?```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def subscribe(api, chain, url, types, **extra):
    r = api.post("/webhooks/subscriptions", {"url": url, "event_types": types, **extra}, token=chain.owner_token)
    assert r.status_code == 201, r.json
    assert r.json["secret"].startswith("whsec_")
    return r.json


def sale(external_id, phone=PHONE):
    return {"external_id": external_id, "customer": {"phone": phone}, "lines": [{"sku": "LATTE-M", "quantity": 1}],
            "payments": []}


def deliveries(app):
    from sqlalchemy import select

    from core.extensions import db
    from core.models import WebhookDelivery

    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [(d.event_type, d.status, d.attempts, d.last_status_code) for d in rows]


def send_due(app):
    from core.webhooks.sender import send_due as run

    with app.app_context():
        return run()


@pytest.fixture
def allowing(make_app):
    return make_app(**ALLOW)


def test_events_arrive_signed_in_order_with_personal_data_masked(allowing, chain, backend):
    from tests.conftest import Api

    app, api = allowing, Api(allowing.test_client())
    verify = documented_verify()
    with Receiver() as receiver:
        created = subscribe(api, chain, receiver.url, ["customer.created", "customer.updated", "sale.recorded",
                                                       "sale.refunded", "visit.recorded"], store="SH001")
        customer_id = api.post("/customers", {"name": "王芳", "phone": PHONE}, token=chain.till).json["id"]
        assert api.patch(f"/customers/{customer_id}", {"notes": "likes oat milk"}, token=chain.till).status_code == 200
        sold = api.post("/sales", sale("w-1"), token=chain.till).json
        assert api.post(f"/sales/{sold['id']}/refunds", {"reason": "spilt"}, token=chain.till).status_code == 201
        assert api.post("/visits", {"customer": {"id": customer_id}}, token=chain.till).status_code == 201
        # Another store's sale: the subscription is SH001's only.
        assert api.post("/sales", sale("bj-1", phone="139 0000 1111"), token=chain.till_bj).status_code == 201

        assert receiver.types == ["customer.created", "customer.updated", "sale.recorded", "sale.refunded",
                                  "visit.recorded"]
        for request in receiver.requests:
            assert verify(created["secret"], request["headers"], request["raw"]), request["headers"]
            assert not verify("whsec_wrong", request["headers"], request["raw"])
            assert request["headers"]["X-Storecrm-Event"] == request["body"]["type"]
            assert request["body"]["version"] == 1 and request["body"]["store"] == "SH001"
        ids = [r["body"]["id"] for r in receiver.requests]
        assert ids == sorted(ids)
        first, updated, recorded, refunded, visit = (r["body"]["data"] for r in receiver.requests)
        # Masked by default: the receiver can match the customer by id, not call them.
        assert first["customer"] == {**first["customer"], "id": customer_id, "name": "王*", "phone": "138****8000",
                                     "home_store": "SH001"}
        assert updated["changed"] == ["notes"]
        assert recorded["sale"]["id"] == sold["id"] and recorded["sale"]["customer_id"] == customer_id
        assert recorded["sale"]["total"] == sold["total"] and isinstance(recorded["sale"]["total"], str)
        assert refunded["sale"] == {**refunded["sale"], "id": sold["id"], "status": "refunded"}
        assert visit["visit"]["customer_id"] == customer_id
        # A tampered body fails the check.
        request = receiver.requests[2]
        assert not verify(created["secret"], request["headers"], request["raw"].replace(b'"w-1"', b'"w-2"'))
    assert all(status == "delivered" for _t, status, _a, _c in deliveries(app))


def backoff_passes(app):
    """The retry's backoff is over (as if a minute went by)."""
    from sqlalchemy import update

    from core.extensions import db
    from core.models import WebhookDelivery, utcnow

    with app.app_context():
        waits = [(d.next_attempt_at - d.updated_at).total_seconds()
                 for d in db.session.query(WebhookDelivery).filter_by(status="retrying")]
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.status == "retrying")
                           .values(next_attempt_at=utcnow()))
        db.session.commit()
        return waits


def test_a_500_is_retried_and_holds_that_customers_later_events_back(make_app, chain):
    from tests.conftest import Api

    app = make_app(**{**ALLOW, "WEBHOOK_BACKOFF_SECONDS": 60})
    api = Api(app.test_client())
    with Receiver(statuses=[500]) as receiver:
        subscribe(api, chain, receiver.url, ["sale.recorded"])
        api.post("/sales", sale("r-1"), token=chain.till)
        api.post("/sales", sale("r-2"), token=chain.till)  # the same customer: waits for r-1
        api.post("/sales", sale("other-1", phone="139 0000 2222"), token=chain.till)  # another customer: goes
        assert [(r["body"]["data"]["sale"]["external_id"], r["answered"]) for r in receiver.requests] == [
            ("r-1", 500), ("other-1", 200)]
        assert deliveries(app)[0] == ("sale.recorded", "retrying", 1, 500)
        assert send_due(app) == {}  # not due before its backoff
        # 60 s from the failed try; the row's updated_at is written a moment after the backoff is
        # computed (seconds on a loaded machine), never before it.
        [wait] = backoff_passes(app)
        assert 55 <= wait <= 60, wait

        assert send_due(app) == {"delivered": 2}  # r-1 again, then r-2 behind it
        assert [(r["body"]["data"]["sale"]["external_id"], r["answered"]) for r in receiver.requests] == [
            ("r-1", 500), ("other-1", 200), ("r-1", 200), ("r-2", 200)]
        assert receiver.requests[0]["body"] == receiver.requests[2]["body"]  # the same event, the same id
    assert [status for _t, status, _a, _c in deliveries(app)] == ["delivered"] * 3


# The sender's SQL runs on both backends in the tests above; these add rules, not SQL.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_a_delivery_failing_past_the_window_is_failed_then_replayed_by_the_owner(make_app, chain):
    from tests.conftest import Api

    from datetime import timedelta

    from sqlalchemy import update

    from core.extensions import db
    from core.models import WebhookDelivery, utcnow

    app = make_app(**ALLOW, WEBHOOK_RETRY_WINDOW_SECONDS=600)
    api = Api(app.test_client())
    with Receiver(default=500) as receiver:
        created = subscribe(api, chain, receiver.url, ["sale.recorded"])
        api.post("/sales", sale("f-1"), token=chain.till)
        assert deliveries(app) == [("sale.recorded", "retrying", 1, 500)]
        with app.app_context():  # ten minutes later: the window is over, the next try is due
            db.session.execute(update(WebhookDelivery).values(window_started_at=utcnow() - timedelta(seconds=601),
                                                              next_attempt_at=utcnow()))
            db.session.commit()
        assert send_due(app) == {"failed": 1}
        failed = api.get("/webhooks/deliveries?status=failed", token=chain.owner_token).json["items"]
        assert [(d["event_type"], d["attempts"], d["last_status_code"], d["last_error"]) for d in failed] == [
            ("sale.recorded", 2, 500, "HTTP 500")]
        assert send_due(app) == {}  # failed stays failed

        receiver.default = 200
        assert api.post(f"/webhooks/deliveries/{failed[0]['id']}/replay", token=chain.manager_token).status_code == 403
        r = api.post(f"/webhooks/deliveries/{failed[0]['id']}/replay", token=chain.owner_token)
        assert r.status_code == 202 and r.json["status"] == "delivered", r.json
        assert [x["answered"] for x in receiver.requests] == [500, 500, 200]
        assert receiver.requests[-1]["body"]["id"] == receiver.requests[0]["body"]["id"]
        assert documented_verify()(created["secret"], receiver.requests[-1]["headers"], receiver.requests[-1]["raw"])


@SQLITE_ONLY
def test_private_and_loopback_addresses_are_refused_unless_the_instance_allows_them(app, api, chain):
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/"):
        r = api.post("/webhooks/subscriptions", {"url": url, "event_types": ["sale.recorded"]}, token=chain.owner_token)
        assert (r.status_code, r.json["error"]["reason"]) == (400, "private"), (url, r.json)
        assert list(r.json["error"]["fields"]) == ["url"]
    r = api.post("/webhooks/subscriptions", {"url": "ftp://example.com/x", "event_types": ["sale.recorded"]},
                 token=chain.owner_token)
    assert (r.status_code, r.json["error"]["reason"]) == (400, "invalid")
    r = api.post("/webhooks/subscriptions", {"url": "http://93.184.216.34/", "event_types": ["sale.exploded"]},
                 token=chain.owner_token)
    assert r.status_code == 400 and "sale.exploded" in r.json["error"]["fields"]["event_types"][0]
    # Only an owner subscribes.
    r = api.post("/webhooks/subscriptions", {"url": "http://93.184.216.34/", "event_types": ["sale.recorded"]},
                 token=chain.manager_token)
    assert r.status_code == 403
    assert api.get("/webhooks/subscriptions", token=chain.owner_token).json["items"] == []
