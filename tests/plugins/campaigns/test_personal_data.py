"""Campaigns' part in a person's export, erasure and merge: messages (with their text and
address), outbox entries, campaign groups, coupons and call tasks; after erasure the scan of
every table and text column finds nothing of the person."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer, Store
from tests.privacy.helpers import PERSON, find_in_database


def _give_them_everything(shop, cid):
    """A campaign message with a coupon, a care message, a personal coupon and a call task."""
    from plugins.campaigns.models import CallTask
    from plugins.campaigns.services import automations

    shop.sell(cid, "80.00", days_ago=3)
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    batch = shop.post("/campaigns/coupons", {"name": "8折", "kind": "percent", "value": "20", "valid_days": 10},
                      expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "春节", "kind": "holiday", "segment_id": seg["id"],
                                              "channel": "outbox", "body_zh": "{{ name }}：{{ coupon_code }}",
                                              "coupon_batch_id": batch["id"], "control_percent": "0"}, expect=201).json
    shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202)
    with shop.app.app_context():
        store = db.session.get(Store, shop.chain.ids["sh"])
        customer = db.session.get(Customer, cid)
        settings = shop.app.extensions["storecrm.plugins"].settings(store, "campaigns")
        automations.follow_up(db.session, store, customer, "first_purchase", f"first:{store.id}:{cid}", date.today(),
                              settings)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(CallTask).where(CallTask.customer_id == cid)) == 1
    return camp["id"]


def test_export_then_erasure_leave_no_trace_of_the_person_in_campaigns_tables(shop):
    cid = shop.customer(PERSON["renamed"], email=False, consent=("sms",), address=PERSON["address"])
    _give_them_everything(shop, cid)
    doc = shop.api.get(f"/customers/{cid}/export", token=shop.chain.manager_token).json["plugins"]["campaigns"]
    assert [m["body"].split("\n")[0].split("：")[0] for m in doc["messages"]] == [PERSON["renamed"]]
    assert len(doc["coupons"]) == 1 and doc["call_tasks"][0]["rule"] == "first_purchase"
    assert doc["campaigns"][0]["group"] == "target"
    assert find_in_database(shop.app, [PERSON["renamed"]]), "the scan must see the name in the message first"

    r = shop.api.delete(f"/customers/{cid}", token=shop.chain.manager_token)
    assert r.status_code == 200, r.json
    assert [hit for hit in find_in_database(shop.app, [PERSON["renamed"], PERSON["address"]])
            if hit[0].startswith("campaigns_")] == []
    from plugins.campaigns.services.panels import PERSONAL_TABLES

    with shop.app.app_context():
        for model in PERSONAL_TABLES:
            assert db.session.scalar(select(func.count()).select_from(model).where(model.customer_id == cid)) == 0


def test_merging_moves_messages_coupons_and_tasks_to_the_kept_profile(shop):
    from plugins.campaigns.models import CallTask, Coupon, Message

    kept = shop.customer("保留", consent=("sms",))
    merged = shop.customer("合并", consent=("sms",))
    _give_them_everything(shop, merged)
    r = shop.api.post(f"/customers/{kept}/merge", {"merge_id": merged}, token=shop.chain.manager_token)
    assert r.status_code == 200, r.json
    with shop.app.app_context():
        for model in (Message, Coupon, CallTask):
            owners = set(db.session.scalars(select(model.customer_id).where(model.customer_id.in_([kept, merged]))))
            assert owners == {kept}, model.__tablename__
