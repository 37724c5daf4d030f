"""Email through a real SMTP server that is down for the first send: the message is recorded as
failed, tried again (up to 3 attempts), sent once the server answers, never twice."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from tests.services import free_port


def test_a_failed_email_is_retried_and_sent_once(shop, mailbox):
    from plugins.campaigns.models import Campaign, Message
    from plugins.campaigns.services import sending

    cid = shop.customer("重试", consent=("email",))
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "邮件", "segment_id": seg["id"], "channel": "email",
                                              "body_zh": "{{ name }} 你好", "control_percent": "0"}, expect=201).json
    working = shop.app.config["SMTP_PORT"]
    shop.app.config["SMTP_PORT"] = free_port()  # nothing listens there: connection refused
    shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202)
    with shop.app.app_context():
        message = db.session.scalars(select(Message).where(Message.campaign_id == camp["id"])).one()
        assert (message.status, message.attempts) == ("failed", 3) and message.error
        assert db.session.get(Campaign, camp["id"]).status == "sent"  # attempts used up: it does not hang
        message.attempts = 1  # as if the first failure only; the server is back
        db.session.commit()
        db.session.get(Campaign, camp["id"]).status = "sending"
        db.session.commit()
    shop.app.config["SMTP_PORT"] = working
    with shop.app.app_context():
        from core.models import Store

        store = db.session.get(Store, shop.chain.ids["sh"])
        settings = shop.app.extensions["storecrm.plugins"].settings(store, "campaigns")
        for shard in range(sending.SHARDS):
            sending.run_shard(db.session, camp["id"], shard, settings, store)
        message = db.session.scalars(select(Message).where(Message.campaign_id == camp["id"])).one()
        assert (message.status, message.attempts, message.error) == ("sent", 2, None)
    assert shop.messages(camp["id"]) == {cid: 1}
    assert len(mailbox.received) == 1
