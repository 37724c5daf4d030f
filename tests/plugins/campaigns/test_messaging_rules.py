"""Consent and the frequency cap at their boundaries, quiet hours in the store's timezone, the
unsubscribe round trip (link and reply keyword), and the budget stop."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Consent, Store

UTC = timezone.utc
SETTINGS = {"monthly_cap": 2, "unanswered_after": 3, "reduced_cap": 1, "quiet_start": "21:00", "quiet_end": "08:00"}


def _message(customer_id, at, purpose="marketing", status="sent", key=None):
    from plugins.campaigns.models import Message

    db.session.add(Message(customer_id=customer_id, channel="email", purpose=purpose, status=status, topic="campaign",
                           dedupe_key=key or f"m-{customer_id}-{at.isoformat()}-{purpose}-{status}", claimed_at=at,
                           sent_at=at))
    db.session.flush()


def test_the_monthly_cap_counts_marketing_in_the_store_calendar_month_and_tightens_after_three_unanswered(shop):
    from plugins.campaigns.services.messaging import month_start, over_cap

    a, b, c, d = (shop.customer(n) for n in "ABCD")
    shop.sell(a, "50.00", days_ago=200)
    shop.sell(b, "50.00", days_ago=200)
    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    start = month_start(now, "Asia/Shanghai")
    assert start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 00:00 in Shanghai
    with shop.app.app_context():
        # a: one this month (and one a minute before the month began): may get one more.
        _message(a, start - timedelta(minutes=1))
        _message(a, start + timedelta(minutes=1))
        # b: two this month: full. Care and skipped messages never count.
        _message(b, start + timedelta(days=1))
        _message(b, start + timedelta(days=2))
        _message(c, start + timedelta(days=1), purpose="care")
        _message(c, start + timedelta(days=2), purpose="transactional")
        _message(c, start + timedelta(days=3), status="skipped")
        # d: three unanswered in earlier months and one this month: the reduced cap of 1 is reached.
        for months in (4, 3, 2):
            _message(d, start - timedelta(days=30 * months))
        _message(d, start + timedelta(days=1))
        assert over_cap(db.session, [a, b, c, d], now, "Asia/Shanghai", SETTINGS) == {b, d}
        db.session.rollback()
    # d buys after its first old message: only 2 unanswered since, so the cap is 2 again.
    shop.sell(d, "20.00", days_ago=70)
    with shop.app.app_context():
        for months in (4, 3, 2):
            _message(d, start - timedelta(days=30 * months))
        _message(d, start + timedelta(days=1))
        assert over_cap(db.session, [d], now, "Asia/Shanghai", SETTINGS) == set()
        db.session.rollback()


def test_quiet_hours_follow_the_store_clock_and_sends_wait_for_the_morning(shop):
    from plugins.campaigns.models import Campaign
    from plugins.campaigns.services import messaging, sending

    zone = "America/New_York"
    at = lambda h, m=0: datetime(2026, 11, 20, h, m, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # noqa: E731
    assert not messaging.in_quiet_hours(at(20, 59), zone, SETTINGS)
    assert messaging.in_quiet_hours(at(21, 0), zone, SETTINGS)
    assert messaging.in_quiet_hours(at(7, 59), zone, SETTINGS)
    assert not messaging.in_quiet_hours(at(8, 0), zone, SETTINGS)
    assert messaging.quiet_hours_end(at(22, 30), zone, SETTINGS) == datetime(2026, 11, 21, 8, 0, tzinfo=ZoneInfo(zone))

    shop.settings(quiet_start="21:00", quiet_end="08:00")
    people = [shop.customer(f"夜{i}", consent=("sms",)) for i in range(3)]
    for cid in people:
        shop.sell(cid, "30.00", days_ago=5)
    with shop.app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        store.timezone = zone
        db.session.commit()
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "夜间", "segment_id": seg["id"], "channel": "outbox",
                                              "body_zh": "{{ name }} 你好", "control_percent": "0"}, expect=201).json
    with shop.app.app_context():
        store = db.session.get(Store, shop.chain.ids["sh"])
        campaign = db.session.get(Campaign, camp["id"])
        settings = shop.app.extensions["storecrm.plugins"].settings(store, "campaigns")
        sending.start(db.session, campaign, store, settings, now=at(22, 30))
        db.session.commit()
        assert sending.run_shard(db.session, camp["id"], 0, settings, store, now_fn=lambda: at(22, 30)) == "quiet"
        campaign = db.session.get(Campaign, camp["id"])
        assert campaign.status == "waiting"
        assert campaign.resume_at == datetime(2026, 11, 21, 8, 0, tzinfo=ZoneInfo(zone))
        assert sending.resume_due(db.session, now=at(7, 59) + timedelta(days=1)) == []
        assert sending.resume_due(db.session, now=at(8, 0) + timedelta(days=1)) == [camp["id"]]
        db.session.commit()
    assert shop.messages(camp["id"]) == {}  # nothing went out in the night
    with shop.app.app_context():
        store = db.session.get(Store, shop.chain.ids["sh"])
        for shard in range(sending.SHARDS):
            sending.run_shard(db.session, camp["id"], shard, settings, store, now_fn=lambda: at(8, 0) + timedelta(days=1))
        assert db.session.get(Campaign, camp["id"]).status == "sent"
    assert shop.messages(camp["id"]) == {cid: 1 for cid in people}


def _link(body: str) -> str:
    return re.search(r"(/api/v1/campaigns/unsubscribe/\S+)", body).group(1)


def test_unsubscribe_link_withdraws_consent_with_time_and_source_and_the_next_campaign_skips_them(shop):
    from plugins.campaigns.models import OutboxEntry

    cid = shop.customer("退订者", consent=("sms",))
    stays = shop.customer("留下", consent=("sms",))
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    first = shop.post("/campaigns/campaigns", {"name": "一", "segment_id": seg["id"], "channel": "outbox",
                                               "body_zh": "hi", "control_percent": "0"}, expect=201).json
    shop.post(f"/campaigns/campaigns/{first['id']}/send", {}, expect=202)
    with shop.app.app_context():
        body = db.session.scalars(select(OutboxEntry.body).where(OutboxEntry.customer_id == cid)).one()
    link = _link(body)
    client = shop.app.test_client()
    r = client.get(link, headers={"Accept": "application/json"})  # public: no token
    assert r.status_code == 200 and r.json["withdrawn"] is True and r.json["channel"] == "sms"
    page = client.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "退订成功" in page.text and "already unsubscribed" in page.text
    assert client.get(link[:-3] + "xyz", headers={"Accept": "application/json"}).status_code == 404
    assert client.get(link + "?format=json").json["withdrawn"] is False
    assert "退订成功" in client.get(link + "?format=html").text
    assert client.get(link + "?format=pdf").status_code == 400
    with shop.app.app_context():
        latest = db.session.scalars(select(Consent).where(Consent.customer_id == cid).order_by(Consent.id.desc())).first()
        assert (latest.channel, latest.granted, latest.source) == ("sms", False, "unsubscribe_link")
        assert latest.at is not None
    second = shop.post("/campaigns/campaigns", {"name": "二", "segment_id": seg["id"], "channel": "outbox",
                                                "body_zh": "hi again", "control_percent": "0"}, expect=201).json
    shop.post(f"/campaigns/campaigns/{second['id']}/send", {}, expect=202)
    assert shop.messages(second["id"]) == {stays: 1}


def test_replying_the_keyword_withdraws_sms_consent(shop):
    cid = shop.customer("短信退订", consent=("sms",))
    r = shop.post("/campaigns/replies", {"channel": "sms", "sender": "13800000001", "text": " 退订 "}, expect=200)
    assert r.json == {"withdrawn": True, "customer_id": cid}
    r = shop.post("/campaigns/replies", {"channel": "sms", "sender": "13800000001", "text": "谢谢"}, expect=200)
    assert r.json["withdrawn"] is False
    with shop.app.app_context():
        latest = db.session.scalars(select(Consent).where(Consent.customer_id == cid).order_by(Consent.id.desc())).first()
        assert (latest.granted, latest.source, latest.proof) == (False, "reply:sms", "退订")


def test_sending_stops_when_the_budget_is_spent_and_the_report_says_so(shop):
    people = [shop.customer(f"预算{i}", consent=("sms",)) for i in range(10)]
    seg = shop.post("/campaigns/segments", {"name": "all", "filters": {}}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "预算", "segment_id": seg["id"], "channel": "outbox",
                                              "body_zh": "hi", "control_percent": "20", "budget": "0.50",
                                              "cost_per_message": "0.1000"}, expect=201).json
    done = shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202).json
    assert done["status"] == "budget_spent"
    sent = shop.messages(camp["id"])
    assert len(sent) == 5 and set(sent.values()) == {1}
    report = shop.get(f"/campaigns/campaigns/{camp['id']}/report", expect=200).json
    assert report["budget"] == {"budget": "0.50", "spent": "0.50", "stopped_by_budget": True, "not_reached_for_budget": 3}
    from plugins.campaigns.models import Recipient

    with shop.app.app_context():
        control = set(db.session.scalars(select(Recipient.customer_id).where(Recipient.campaign_id == camp["id"],
                                                                             Recipient.is_control.is_(True))))
    assert len(control) == 2 and not control & set(sent) and set(sent) <= set(people)


@pytest.mark.postgres_only
def test_two_sends_counting_for_one_customer_at_once_count_one_after_the_other(shop, backend):
    """A customer with one marketing message this month; two campaigns (or a campaign and an
    automation) claim for them at the same moment. The second count waits for the first claim's
    commit and finds the cap (2) reached: a third message never goes out."""
    if backend != "postgresql":
        pytest.skip("row locks across connections")
    import threading

    from plugins.campaigns.services import messaging

    cid = shop.customer("并发")
    settings = {"monthly_cap": 2, "reduced_cap": 1, "unanswered_after": 3}
    with shop.app.app_context():
        _message(cid, datetime.now(timezone.utc), key="earlier")
        db.session.commit()
    first_counted, second_result = threading.Event(), []

    def first():
        with shop.app.app_context():
            now = datetime.now(timezone.utc)
            assert messaging.over_cap(db.session, [cid], now, "Asia/Shanghai", settings) == set()
            first_counted.set()
            time.sleep(0.5)  # the second claim is counting now, if it can
            _message(cid, now, key="first")
            db.session.commit()

    def second():
        first_counted.wait(10)
        with shop.app.app_context():
            second_result.append(messaging.over_cap(db.session, [cid], datetime.now(timezone.utc), "Asia/Shanghai",
                                                    settings))
            db.session.rollback()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert second_result == [{cid}]  # it counted after the first claim: the cap is reached
