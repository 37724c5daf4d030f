"""Requests other plugins make of campaigns through hooks, never imports: `issue_coupon`
(feedback's compensation), `staff_notification` (SLA breaches, low stock) and
`customer_notification` (membership's tier notices). A tiny "asker" plugin stands for the
caller; it also implements both hooks and declines (returns None), so the first answer comes
from campaigns, as the contract says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Customer, Store, User
from core.plugins import HookContext, Manifest, hookimpl
from tests.conftest import build_chain, enable
from tests.plugins.campaigns.conftest import FAST, Shop


class Asker:
    def __init__(self):
        self.declined = []

    @hookimpl
    def issue_coupon(self, customer, spec, ctx):
        self.declined.append(("issue_coupon", customer.id))
        return None  # coupons are not this plugin's: it declines

    @hookimpl
    def staff_notification(self, users, topic, data, ctx):
        self.declined.append(("staff_notification", topic))
        return None


def ask(app, hook: str, store_code: str, **kwargs):
    """What a calling plugin does: the first enabled implementer that answers wins."""
    reg = app.extensions["storecrm.plugins"]
    store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
    ctx = HookContext(session=db.session, store=store, actor="asker", registry=reg, plugin="asker")
    for name in reg.implementers(hook, reg.enabled_in(store)):
        answers = reg.caller_for(hook, name)(ctx=ctx.for_plugin(name), **kwargs)
        if any(answers):
            return name, answers[0]
    return None, None


@pytest.fixture
def asked(make_app):
    asker = Asker()
    app = make_app(plugins=[Manifest(name="asker", version="1", summary="asks", hooks=asker)])
    chain = build_chain(app)
    enable(app, "SH001", "asker", "campaigns")
    shop = Shop(app, chain)
    shop.settings(**FAST)
    return shop, asker


def test_issue_coupon_gives_a_personal_code_that_the_till_accepts_once(asked):
    shop, asker = asked
    cid = shop.customer("投诉顾客")
    other = shop.customer("别人")
    with shop.app.app_context():
        customer = db.session.get(Customer, cid)
        owner, answer = ask(shop.app, "issue_coupon", "SH001", customer=customer, spec={
            "kind": "amount", "value": Decimal("20.00"), "valid_days": 14, "reason": "complaint compensation"})
        db.session.commit()
    assert owner == "campaigns" and ("issue_coupon", cid) in asker.declined
    assert answer["label"] == "立减¥20.00" and len(answer["code"]) == 10 and answer["expires_on"]
    lines = [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}]
    quote = shop.api.post("/sales/quote", {"customer": {"id": cid}, "lines": lines, "options": {"coupon": answer["code"]}},
                          token=shop.chain.till)
    assert quote.status_code == 200 and quote.json["total"] == "36.00"
    foreign = shop.api.post("/sales/quote", {"customer": {"id": other}, "lines": lines,
                                             "options": {"coupon": answer["code"]}}, token=shop.chain.till)
    assert foreign.status_code == 422 and answer["code"] in foreign.json["error"]["message"]


def test_staff_notification_puts_the_notice_on_each_managers_list(asked):
    shop, asker = asked
    from plugins.campaigns.models import OutboxEntry

    with shop.app.app_context():
        manager = db.session.scalars(select(User).where(User.username == "manager")).one()
        owner, answer = ask(shop.app, "staff_notification", "SH001", users=[manager], topic="inventory.below_safety",
                            data={"title": "咖啡豆低于安全库存", "text": "BEANS-1KG 剩 2 袋，安全库存 5 袋"})
        db.session.commit()
        rows = db.session.scalars(select(OutboxEntry).where(OutboxEntry.user_id == manager.id)).all()
    assert owner == "campaigns" and answer is True
    assert [(r.topic, r.subject, r.body) for r in rows] == [
        ("inventory.below_safety", "咖啡豆低于安全库存", "BEANS-1KG 剩 2 袋，安全库存 5 袋")]


def test_customer_notification_respects_consent_and_is_labelled_a_service_notice(shop):
    from plugins.campaigns.models import Message, OutboxEntry

    agreed = shop.customer("同意短信", consent=("sms",))
    refused = shop.customer("未同意", consent=())
    with shop.app.app_context():
        reg = shop.app.extensions["storecrm.plugins"]
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        ctx = HookContext(session=db.session, store=store, actor="membership", registry=reg, plugin="campaigns")
        call = reg.caller_for("customer_notification", "campaigns")
        yes = call(customer=db.session.get(Customer, agreed), topic="membership.upgrade", data={"tier": "金卡"}, ctx=ctx)
        no = call(customer=db.session.get(Customer, refused), topic="membership.upgrade", data={"tier": "金卡"}, ctx=ctx)
        db.session.commit()
        entries = db.session.scalars(select(OutboxEntry).where(OutboxEntry.customer_id.in_([agreed, refused]))).all()
        purposes = db.session.scalars(select(Message.purpose).where(Message.customer_id == agreed)).all()
    assert yes == [True] and no == []
    assert len(entries) == 1 and entries[0].customer_id == agreed
    assert "同意短信，恭喜您在上海南京路店升级为金卡会员！" in entries[0].body and "退订" in entries[0].body
    assert purposes == ["transactional"]
    # the latest consent decides: granted, then withdrawn, is no message (and granted on another
    # channel is not this one's)
    from core.models import Consent, utcnow

    with shop.app.app_context():
        db.session.add(Consent(customer_id=agreed, channel="sms", purpose="marketing", granted=False,
                               source="unsubscribe_link", at=utcnow()))
        db.session.commit()
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        ctx = HookContext(session=db.session, store=store, actor="membership", registry=reg, plugin="campaigns")
        again = call(customer=db.session.get(Customer, agreed), topic="membership.downgrade", data={"tier": "银卡"},
                     ctx=ctx)
        db.session.rollback()
    assert again == []
def test_coupon_batch_without_a_value_is_a_400_not_a_500(app, chain, api):
    from tests.conftest import enable
    enable(app, "SH001", "campaigns")
    r = api.post("/campaigns/coupons", {"name": "x", "kind": "percent", "store": "SH001"}, token=chain.manager_token)
    assert r.status_code == 400, r.get_json()
    assert "value" in r.get_json()["error"]["fields"]
