"""A real rq worker killed (kill -9, worker and work-horse) in the middle of sending a campaign:
after a restart every targeted customer has exactly one message, the control group none, and the
outbox holds exactly one entry per message (the claim and the send commit together)."""

from __future__ import annotations

from rq.job import Job
from sqlalchemy import func, insert, select

from core.extensions import db
from core.models import Consent, Customer, Store
from tests.conftest import build_chain, enable
from tests.faults.conftest import requeue_abandoned, wait_for

CUSTOMERS = 120


def sent_per_customer(app, campaign_id) -> dict[int, int]:
    from plugins.campaigns.models import Message

    with app.app_context():
        return dict(db.session.execute(select(Message.customer_id, func.count()).where(
            Message.campaign_id == campaign_id, Message.status == "sent").group_by(Message.customer_id)).all())


def test_a_worker_killed_mid_campaign_resends_to_nobody_and_skips_nobody(fault_app, processes):
    app = fault_app
    chain = build_chain(app)
    enable(app, "SH001", "campaigns")
    from core.services.store_plugins import update_settings
    from plugins.campaigns.jobs import enqueue_campaign
    from plugins.campaigns.models import Campaign, OutboxEntry, Recipient, Segment
    from plugins.campaigns.services import sending

    with app.app_context():
        store = db.session.get(Store, chain.ids["sh"])
        # 600 a minute over 2 shards: 5 a second each, claimed 10 at a time: ~12 s per shard.
        update_settings(db.session, store, "campaigns", {"send_rate_per_minute": 600, "quiet_start": "00:00",
                                                         "quiet_end": "00:00"}, actor="test")
        people = []
        for i in range(CUSTOMERS):
            customer = Customer(name=f"顾客{i}", home_store_id=store.id, hobbies=[], preferences={})
            customer.set_phone(f"+86139{i:08d}")
            people.append(customer)
        db.session.add_all(people)
        db.session.flush()
        db.session.execute(insert(Consent), [{"customer_id": c.id, "channel": "sms", "purpose": "marketing",
                                              "granted": True, "source": "paper_form"} for c in people])
        segment = Segment(store_id=store.id, name="all", filters={})
        db.session.add(segment)
        db.session.flush()
        settings = app.extensions["storecrm.plugins"].settings(store, "campaigns")
        campaign = sending.create(db.session, store, {"name": "冬季", "segment_id": segment.id, "channel": "outbox",
                                                      "body_zh": "{{ name }}，冬季新品到店", "control_percent": "10"},
                                  settings)
        sending.start(db.session, campaign, store, settings)
        campaign_id = campaign.id
        db.session.commit()
        targets = set(db.session.scalars(select(Recipient.customer_id).where(
            Recipient.campaign_id == campaign_id, Recipient.is_control.is_(False))))
        enqueue_campaign(campaign_id)
    assert len(targets) == CUSTOMERS - 12

    queue = app.extensions["storecrm.jobs"]
    procs = processes(app)
    worker = procs.worker()
    wait_for(lambda: len(sent_per_customer(app, campaign_id)) >= 30, timeout=90, message="the sending to be under way")
    procs.kill9(worker)
    before = sent_per_customer(app, campaign_id)
    assert 0 < len(before) < len(targets), "the kill must land mid-send"
    assert set(before.values()) == {1}

    with app.app_context():
        jobs = [Job.fetch(f"campaigns-send-{campaign_id}-{shard}", connection=queue.connection())
                for shard in range(sending.SHARDS)]
        for job in jobs:
            if job.get_status(refresh=True) == "started":
                requeue_abandoned(queue, job)

    worker = procs.worker()
    wait_for(lambda: len(sent_per_customer(app, campaign_id)) == len(targets), timeout=120,
             message="the restarted worker to finish the campaign")
    wait_for(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), timeout=60,
             message="both shards to finish")
    procs.stop(worker)
    after = sent_per_customer(app, campaign_id)
    assert set(after) == targets  # none skipped, no control customer
    assert set(after.values()) == {1}  # none twice
    with app.app_context():
        outbox = dict(db.session.execute(select(OutboxEntry.customer_id, func.count())
                                         .group_by(OutboxEntry.customer_id)).all())
        assert outbox == {cid: 1 for cid in targets}
        assert db.session.get(Campaign, campaign_id).status == "sent"
