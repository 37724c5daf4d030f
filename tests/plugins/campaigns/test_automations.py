"""Care automations, each switchable per store: birthday greeting 3 days ahead, the follow-up call
3 days after a first purchase (on the salesperson's list, its outcome feeding "follow-ups on
time"), the second-visit coupon, referral rewards for both, and win-back with an apology first
when the last complaint is open (a filter another plugin offers through `segment_filters`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Customer, Store, User
from core.plugins import HookContext, Manifest, hookimpl
from tests.conftest import build_chain, enable
from tests.plugins.campaigns.conftest import FAST, Shop


class Complaints:
    """Stands for feedback: customers with an open complaint, as a segment filter."""

    def __init__(self):
        self.open = set()

    @hookimpl
    def segment_filters(self):
        return [{"name": "feedback_open_complaint", "label": "Open complaint", "params": {},
                 "apply": lambda stmt, params, ctx: stmt.where(Customer.id.in_(sorted(self.open) or [-1]))}]


@pytest.fixture
def care(make_app):
    complaints = Complaints()
    app = make_app(plugins=[Manifest(name="complaints", version="1", summary="x", hooks=complaints)])
    chain = build_chain(app)
    enable(app, "SH001", "campaigns", "complaints")
    shop = Shop(app, chain)
    shop.settings(**FAST)
    return shop, complaints


def _run(shop, now=None):
    from plugins.campaigns.services import automations

    with shop.app.app_context():
        store = db.session.get(Store, shop.chain.ids["sh"])
        reg = shop.app.extensions["storecrm.plugins"]
        ctx = HookContext(session=db.session, store=store, registry=reg, plugin="campaigns")
        done = automations.run_for_store(db.session, store, ctx.settings(), ctx, now=now)
        db.session.commit()
        return done


def _outbox(shop, cid):
    from plugins.campaigns.models import OutboxEntry

    with shop.app.app_context():
        return [(e.topic, e.body) for e in db.session.scalars(select(OutboxEntry).where(OutboxEntry.customer_id == cid)
                                                              .order_by(OutboxEntry.id))]


def test_care_rules_run_once_each_and_reach_only_consenting_customers(care):
    shop, complaints = care
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=10)
    ahead = (now + timedelta(days=3)).date()
    birthday = shop.customer("寿星", consent=("sms",), birthday=f"1990-{ahead.month:02d}-{ahead.day:02d}")
    silent = shop.customer("不打扰", consent=(), birthday=f"1991-{ahead.month:02d}-{ahead.day:02d}")
    first = shop.customer("新客", consent=("sms",))
    shop.sell(first, "60.00", days_ago=3, staff="alice")
    referrer = shop.customer("推荐人", consent=("sms",))
    newcomer = shop.customer("被推荐", consent=("sms",), preferences={"referred_by": str(referrer)})
    shop.sell(newcomer, "60.00", days_ago=1)
    lapsed, unhappy = shop.customer("流失", consent=("sms",)), shop.customer("有投诉", consent=("sms",))
    for cid in (lapsed, unhappy):
        shop.sell(cid, "60.00", days_ago=200)
        shop.set_class(cid, "regular", "at_risk")
    complaints.open.add(unhappy)
    shop.settings(festival_greetings=False)

    done = _run(shop, now)
    assert done["birthday"] == 1 and done["first_purchase"] == 1 and done["second_visit"] == 1
    assert done["referral"] == 2 and done["winback"] == 2
    assert [t for t, _b in _outbox(shop, birthday)] == ["care.birthday"]
    assert _outbox(shop, birthday)[0][1].startswith("【您订阅的关怀提醒】寿星，上海南京路店提前祝您生日快乐")
    assert _outbox(shop, silent) == []
    assert [t for t, _b in _outbox(shop, newcomer)] == ["care.second_visit", "care.referral"]
    assert [t for t, _b in _outbox(shop, referrer)] == ["care.referral"]
    assert "券码" in _outbox(shop, referrer)[0][1]
    assert [t for t, _b in _outbox(shop, lapsed)] == ["care.winback"]
    assert [t for t, _b in _outbox(shop, unhappy)] == ["care.apology"]  # sorry first, no offer

    again = _run(shop, now)
    assert sum(again.values()) == 0  # each rule once per customer and day

    from plugins.campaigns.models import CallTask

    with shop.app.app_context():
        task = db.session.scalars(select(CallTask).where(CallTask.customer_id == first)).one()
        alice = db.session.scalars(select(User).where(User.username == "alice")).one()
        assert task.assignee_id == alice.id and task.rule == "first_purchase"
        task_id, due = task.id, task.due_on
    r = shop.post(f"/campaigns/call-tasks/{task_id}/outcome", {"outcome": "reached", "note": "很满意"},
                  token=shop.chain.staff_token, expect=200)
    assert r.json["outcome"] == "reached"
    assert shop.api.post(f"/campaigns/call-tasks/{task_id}/outcome", {"store": "BJ001", "outcome": "reached"},
                         token=shop.chain.staff_bj_token).status_code == 404
    with shop.app.app_context():
        reg = shop.app.extensions["storecrm.plugins"]
        store = db.session.get(Store, shop.chain.ids["sh"])
        alice = db.session.scalars(select(User).where(User.username == "alice")).one()
        ctx = HookContext(session=db.session, store=store, registry=reg, plugin="campaigns")
        values = reg.caller_for("kpi_metrics", "campaigns")(staff=alice, period=(due, due), ctx=ctx)
        names = [d["name"] for d in reg.caller_for("kpi_metric_definitions", "campaigns")()[0]]
    assert str(values[0]["campaigns.followups_on_time"]) == "100.0" and values[0]["campaigns.followups_done"] == 1
    assert names == ["campaigns.followups_on_time", "campaigns.followups_done"]


def test_a_rule_switched_off_does_nothing(care):
    shop, _complaints = care
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=10)
    ahead = (now + timedelta(days=3)).date()
    cid = shop.customer("寿星", consent=("sms",), birthday=f"1990-{ahead.month:02d}-{ahead.day:02d}")
    shop.settings(quiet_start="21:00", quiet_end="08:00")
    assert _run(shop, now.replace(hour=22)) == {}  # nobody is greeted at night
    shop.settings(birthday_greeting=False)
    assert "birthday" not in _run(shop, now)
    assert _outbox(shop, cid) == []
