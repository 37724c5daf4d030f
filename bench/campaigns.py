"""Campaign sending: 100,000 consenting recipients (10% held out as control) through the real
path — rq jobs, two `storecrm worker` processes sharing the campaign's two shards on PostgreSQL
+ Redis; the same functions in-process on SQLite — against a floor that renders the same
messages (template, signed unsubscribe link) and writes them to the outbox with Core in one
transaction. Reported in messages per second, with the ratio floor rate ÷ rate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import insert, select

from bench import data
from bench.measure import Result, rate_ratio, self_peak_mb

SIZES = {"smoke": dict(customers=600), "full": dict(customers=100_000)}
BODY = "{{ name }}，{{ store }}冬季新品到店，欢迎光临。"


def prepare(backend, size: str):
    from core.app import create_app
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import enable_plugin, update_settings
    from plugins.campaigns.models import Segment
    from plugins.campaigns.services import sending

    url = backend.fresh_database("campaigns")
    app = create_app(backend.config(url))
    count = SIZES[size]["customers"]
    with app.app_context():
        store = Store(code="BENCH", name="基准店", timezone="Asia/Shanghai")
        db.session.add(store)
        db.session.commit()
        enable_plugin(db.session, store, "campaigns", actor="bench")
        update_settings(db.session, store, "campaigns", {"send_rate_per_minute": 1_000_000, "quiet_start": "00:00",
                                                         "quiet_end": "00:00"}, actor="bench")
        db.session.commit()
        store_id = store.id
        db.session.remove()
        with db.engine.begin() as conn:
            data.bulk_customers(conn, count, store_id)
        with db.engine.begin() as conn:
            ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM customer ORDER BY id")]
            data.bulk_insert(conn, "consent", ["customer_id", "channel", "purpose", "granted", "source", "at"],
                             ((cid, "sms", "marketing", True, "bench", data._naive(data.NOW)) for cid in ids))
        with db.engine.begin() as conn:
            data.analyze(conn)
        store = db.session.get(Store, store_id)
        segment = Segment(store_id=store_id, name="all", filters={})
        db.session.add(segment)
        db.session.flush()
        settings = app.extensions["storecrm.plugins"].settings(store, "campaigns")
        campaign = sending.create(db.session, store, {"name": "bench", "segment_id": segment.id, "channel": "outbox",
                                                      "body_zh": BODY, "control_percent": "10"}, settings)
        sending.start(db.session, campaign, store, settings)
        db.session.commit()
        campaign_id = campaign.id
        db.session.remove()
        db.engine.dispose()
    return app, url, campaign_id


def floor(app, campaign_id: int) -> tuple[int, float]:
    """Render each target's message and write it to the outbox: Core, one transaction."""
    from core.extensions import db
    from core.models import Customer, Store
    from plugins.campaigns.models import Campaign, OutboxEntry, Recipient
    from plugins.campaigns.services import messaging

    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        store = db.session.get(Store, campaign.store_id)
        store_id, store_name = store.id, store.name
        start = time.perf_counter()
        rows = db.session.execute(select(Customer.id, Customer.name).join(Recipient, Recipient.customer_id == Customer.id)
                                  .where(Recipient.campaign_id == campaign_id, Recipient.is_control.is_(False))).all()
        db.session.rollback()  # the read is done; SQLite allows one writer
        out = []
        for cid, name in rows:
            link = messaging.unsubscribe_link(messaging.unsubscribe_token(cid, "sms"))
            body = messaging.render(BODY, {"name": name, "store": store_name}) + messaging.FOOTER["zh"].format(
                store=store_name, link=link)
            out.append({"customer_id": cid, "store_id": store_id, "topic": "floor", "subject": "", "body": body})
        with db.engine.begin() as conn:
            conn.execute(insert(OutboxEntry), out)
        seconds = time.perf_counter() - start
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM campaigns_outbox WHERE topic = 'floor'")
        db.session.remove()
    return len(rows), seconds


def sent_count(app, campaign_id: int) -> int:
    from sqlalchemy import func

    from core.extensions import db
    from plugins.campaigns.models import Message

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Message).where(Message.campaign_id == campaign_id,
                                                                             Message.status == "sent"))
        db.session.remove()
        return n


def send_with_workers(app, backend, url: str, campaign_id: int, expected: int) -> float:
    """Two real `storecrm worker --burst` processes on the Redis queue; seconds until all sent."""
    from plugins.campaigns.jobs import enqueue_campaign

    storecrm = str(Path(sys.executable).with_name("storecrm"))
    cfg = app.config
    env = {**os.environ, "STORECRM_DATABASE_URL": url, "STORECRM_DATA_KEY": cfg["DATA_KEY"],
           "STORECRM_SECRET_KEY": cfg["SECRET_KEY"], "STORECRM_REDIS_URL": backend.redis_url,
           "STORECRM_QUEUE": cfg.get("QUEUE_NAME", "storecrm"), "STORECRM_INSTANCE_PATH": cfg["INSTANCE_PATH"],
           "STORECRM_LOCALE": "en", "STORECRM_ENV_FILE": "/nonexistent"}
    env.pop("STORECRM_PLUGINS", None)
    start = time.perf_counter()
    with app.app_context():
        enqueue_campaign(campaign_id)
    workers = [subprocess.Popen([storecrm, "worker", "--burst", "--without-scheduler"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    for worker in workers:
        worker.wait(timeout=3600)
    seconds = time.perf_counter() - start
    if sent_count(app, campaign_id) != expected:
        raise RuntimeError(f"sent {sent_count(app, campaign_id)} of {expected}")
    return seconds


def send_in_process(app, campaign_id: int) -> float:
    from core.extensions import db
    from core.models import Store
    from plugins.campaigns.models import Campaign
    from plugins.campaigns.services import sending

    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        store = db.session.get(Store, campaign.store_id)
        settings = app.extensions["storecrm.plugins"].settings(store, "campaigns")
        start = time.perf_counter()
        for shard in range(sending.SHARDS):
            sending.run_shard(db.session, campaign_id, shard, settings, store)
        seconds = time.perf_counter() - start
        db.session.remove()
    return seconds


def run(backend, size: str = "full") -> list[Result]:
    app, url, campaign_id = prepare(backend, size)
    expected, floor_seconds = floor(app, campaign_id)
    if backend.redis_url:
        seconds, variant = send_with_workers(app, backend, url, campaign_id, expected), "rq, 2 workers"
    else:
        seconds, variant = send_in_process(app, campaign_id), "in-process (no Redis)"
        if sent_count(app, campaign_id) != expected:
            raise RuntimeError("not every target was sent")
    rate, floor_rate = expected / seconds, expected / floor_seconds
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()
    return [Result("campaign sending", backend.name, variant, round(rate, 1), "messages/s",
                   "render + outbox INSERT (Core, one transaction)", round(floor_rate, 1), rate_ratio(rate, floor_rate),
                   round(self_peak_mb(), 1), {"recipients": SIZES[size]["customers"], "messages": expected,
                                              "seconds": round(seconds, 2), "floor_seconds": round(floor_seconds, 2)})]
