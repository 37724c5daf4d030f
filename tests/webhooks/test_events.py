"""Which events reach a subscriber: the plugins' own (declared through `webhook_event_types`,
emitted with `core.webhooks.emit_event`), a merge, an erasure (whose stored bodies are dropped).
One backend: the SQL is the same as in test_delivery's runs on both."""

from __future__ import annotations

import pytest

from core.plugins import Manifest, hookimpl
from tests.conftest import BUNDLED, Api, build_chain, enable
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import ALLOW, backoff_passes, send_due, subscribe

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Parcels:
    """A third-party plugin with an event of its own."""

    @hookimpl
    def webhook_event_types(self):
        return [{"type": "parcels.parcel_shipped", "label": "Parcel shipped"}]


def test_a_plugin_declares_its_event_type_and_emits_it_after_the_commit(make_app):
    from core.extensions import db
    from core.webhooks import emit_event

    app = make_app(plugins=[Manifest(name="parcels", version="1", summary="x", hooks=Parcels())], **ALLOW)
    chain = build_chain(app)
    api = Api(app.test_client())
    types = {t["type"]: t["label"] for t in api.get("/webhooks/event-types", token=chain.owner_token).json}
    assert types["parcels.parcel_shipped"] == "Parcel shipped"
    assert {"sale.recorded", "membership.tier_changed", "feedback.complaint_opened", "feedback.complaint_resolved",
            "inventory.stock_below_safety", "campaigns.campaign_sent", "customer.erased"} <= set(types)
    with Receiver() as receiver:
        subscribe(api, chain, receiver.url, ["parcels.parcel_shipped"], store="BJ001")
        with app.app_context():  # as in a job: no request (the catalogue's lazy labels stay untranslated)
            app.extensions.pop("storecrm.webhook_types")
            assert emit_event(db.session, chain.ids["sh"], "parcels.parcel_shipped", {"parcel_id": 1}) is None
            event_id = emit_event(db.session, chain.ids["bj"], "parcels.parcel_shipped", {"parcel_id": 7}).id
            assert receiver.requests == []  # not before the commit
            db.session.commit()
            with pytest.raises(ValueError, match="parcels.parcel_lost"):
                emit_event(db.session, chain.ids["bj"], "parcels.parcel_lost", {})
        assert [(r["body"]["type"], r["body"]["data"], r["body"]["id"]) for r in receiver.requests] == [
            ("parcels.parcel_shipped", {"parcel_id": 7}, event_id)]


def test_an_enrolment_sends_the_tier_event_in_order_with_the_customers_other_events(make_app):
    app = make_app(**ALLOW)
    chain = build_chain(app)
    enable(app, "SH001", *BUNDLED)
    api = Api(app.test_client())
    with Receiver() as receiver:
        subscribe(api, chain, receiver.url, ["customer.created", "sale.recorded", "membership.tier_changed"])
        customer_id = api.post("/customers", {"name": "王芳", "phone": "138 0013 8000"}, token=chain.till).json["id"]
        r = api.post(f"/membership/members/{customer_id}/enrol", {}, token=chain.till)
        assert r.status_code in (200, 201), r.json
        api.post("/sales", {"customer": {"id": customer_id}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                 token=chain.till)
        assert receiver.types == ["customer.created", "membership.tier_changed", "sale.recorded"]
        tier = receiver.requests[1]["body"]
        assert (tier["store"], tier["data"]["customer_id"], tier["data"]["from"], tier["data"]["to"]) == (
            "SH001", customer_id, None, "ordinary")


def test_a_merge_and_an_erasure_are_sent_and_an_erased_persons_stored_bodies_are_dropped(make_app):
    from tests.privacy.helpers import find_in_database

    app = make_app(**{**ALLOW, "WEBHOOK_BACKOFF_SECONDS": 60})
    chain = build_chain(app)
    api = Api(app.test_client())
    with Receiver() as receiver:
        subscribe(api, chain, receiver.url, ["customer.created", "sale.recorded", "customer.merged", "customer.erased"],
                  personal_data=True)
        kept = api.post("/customers", {"name": "李雷", "phone": "138 0013 8001"}, token=chain.till).json["id"]
        other = api.post("/customers", {"name": "李雷", "phone": "138 0013 8002"}, token=chain.till).json["id"]
        assert receiver.requests[0]["body"]["data"]["customer"]["phone"] == "+8613800138001"  # in clear, as asked
        assert api.post(f"/customers/{kept}/merge", {"merge_id": other}, token=chain.manager_token).status_code == 200
        assert receiver.requests[2]["body"]["data"] == {"kept_id": kept, "merged_id": other}
        receiver.statuses = [500]
        api.post("/sales", {"customer": {"id": kept}, "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
        assert receiver.requests[-1]["answered"] == 500
        assert find_in_database(app, ["13800138001", "13800138002"]) != []
        assert api.delete(f"/customers/{kept}", token=chain.manager_token).status_code == 200
        # Nothing of the person stays in the stored bodies, the merged profile's included.
        assert find_in_database(app, ["13800138001", "13800138002"]) == []
        assert stored_bodies(app) == [False, False, False, False, True]  # the erasure's is new
        assert receiver.types[-1] == "sale.recorded"  # the erasure waits behind the retried sale
        backoff_passes(app)
        assert send_due(app) == {"delivered": 2}
        redacted, erased = (r["body"] for r in receiver.requests[-2:])
        assert redacted == {"id": redacted["id"], "type": "sale.recorded", "version": 1, "redacted": True,
                            "data": {"customer_id": kept}}
        assert (erased["type"], erased["data"]["customer_id"]) == ("customer.erased", kept)


def stored_bodies(app) -> list[bool]:
    from sqlalchemy import select

    from core.extensions import db
    from core.models import WebhookDelivery

    with app.app_context():
        return [body is not None for body in db.session.scalars(
            select(WebhookDelivery.body).order_by(WebhookDelivery.id))]


def test_complaints_and_stock_below_safety_reach_the_subscriber_of_their_store(make_app):
    from tests.plugins.inventory.conftest import Shop

    app = make_app(**ALLOW)
    chain = build_chain(app)
    enable(app, "SH001", "feedback", "inventory")
    shop, api = Shop(app, chain), Api(app.test_client())
    with Receiver() as receiver:
        subscribe(api, chain, receiver.url, ["feedback.complaint_opened", "feedback.complaint_resolved",
                                             "inventory.stock_below_safety"], store="SH001")
        customer_id = api.post("/customers", {"name": "王芳", "phone": "138 0013 8000"}, token=chain.till).json["id"]
        ticket = api.post("/feedback/complaints", {"customer_id": customer_id, "category": "service_attitude",
                                                   "description": "等了很久"}, token=chain.till).json
        r = api.post(f"/feedback/complaints/{ticket['id']}/transitions",
                     {"to": "resolved", "resolution": {"apology": True}}, token=chain.manager_token)
        assert r.status_code in (200, 201), r.json
        shop.move("LATTE-M", 6)  # the store's default safety stock: 5
        shop.sell("LATTE-M", 2)  # 4: below
        assert receiver.types == ["feedback.complaint_opened", "feedback.complaint_resolved",
                                  "inventory.stock_below_safety"]
        opened, resolved, below = (r["body"]["data"] for r in receiver.requests)
        assert (opened["complaint_id"], opened["customer_id"], opened["state"]) == (ticket["id"], customer_id, "new")
        assert "description" not in opened and resolved["state"] == "resolved"
        assert below["product_id"] == 1 and below["alert_id"]
