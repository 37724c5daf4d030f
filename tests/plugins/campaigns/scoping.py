"""Campaigns' records in the cross-store matrix (tests/security/scoping_records.py)."""

from datetime import date

from tests.security.scoping_records import (
    RECORD_PARAMS, admin_model, bj_customer, bj_store, body, chain_param, const, post, record, row,
)

OWNER = {"token": "owner_token"}
segment = post("/campaigns/segments", {"store": "BJ001", "name": "北京老客", "filters": {}}, **OWNER)
batch = post("/campaigns/coupons", {"store": "BJ001", "name": "北京满减", "kind": "amount", "value": "5.00", "codes": 1},
             **OWNER)


def _segment(env):
    return env.value(RECORD_PARAMS, "segment_id")


def _batch(env):
    return env.value(RECORD_PARAMS, "coupon_batch_id")


def _campaign(env):
    return post("/campaigns/campaigns", {"store": "BJ001", "name": "北京秋季", "segment_id": _segment(env),
                                         "body_zh": "你好"}, **OWNER)(env)


def _coupon(env):
    from sqlalchemy import select

    from core.extensions import db
    from plugins.campaigns.models import Coupon

    batch_id = _batch(env)
    with env.app.app_context():
        return db.session.scalar(select(Coupon.id).where(Coupon.batch_id == batch_id))


def _message(env):
    return row("plugins.campaigns.models.Message", customer_id=bj_customer, store_id=bj_store, channel="email",
               address="zhao.beijing@example.com", body="赵北京 您好", status="sent")(env)


record("segment_id", segment)
record("coupon_batch_id", batch)
record("campaign_id", _campaign)
record("task_id", row("plugins.campaigns.models.CallTask", store_id=bj_store, customer_id=bj_customer, rule="matrix",
                      dedupe_key="matrix-call", due_on=date(2026, 11, 30)))
# the public unsubscribe link: its token is a secret sent in the message itself (no store caller)
chain_param("token", const("not-a-real-token"))
body("POST", "api_campaigns.create_campaign",
     lambda env: {"store": "SH001", "name": "借北京的人群", "segment_id": _segment(env), "coupon_batch_id": _batch(env),
                  "body_zh": "你好"})
admin_model("Segment", _segment)
admin_model("CouponBatch", _batch)
admin_model("Coupon", _coupon)
admin_model("Campaign", lambda env: env.value(RECORD_PARAMS, "campaign_id"))
admin_model("CallTask", lambda env: env.value(RECORD_PARAMS, "task_id"))
admin_model("Message", _message)
admin_model("OutboxEntry", lambda env: row("plugins.campaigns.models.OutboxEntry", customer_id=bj_customer,
                                           store_id=bj_store, topic="campaign", body="赵北京 您好",
                                           message_id=_message(env))(env))
