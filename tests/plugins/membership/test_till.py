"""What the till sees: quotes with member perks, member days, notifications, idempotent retries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable
from tests.plugins.membership.conftest import Till, ledger_sum

CART = [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}]


def shanghai_today():
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_birthday_week_discount_is_the_tiers_and_once_per_birthday(shop):
    today = shanghai_today()
    till = shop.till
    cid = till.customer("13900139001", birthday=f"--{today.month:02d}-{today.day:02d}")
    assert till.quote(cid, CART)["adjustments"] == []  # not a member yet: no perks
    till.sell(cid, "1000.00", occurred_at="2020-01-01T10:00:00+08:00")
    quote = till.quote(cid, CART)
    assert quote["adjustments"] == [{"source": "membership", "code": "birthday", "label": "Birthday discount / 生日优惠",
                                     "amount": "-11.20", "data": {"percent": "20.00", "tier": "ordinary"}}]
    assert quote["total"] == "44.80"  # ordinary: 8折 on ¥56
    sale = till.sell(cid, lines=CART, adjustments=quote["adjustments"])
    assert sale["total"] == "44.80" and sale["effects"]["membership"]["points_earned"] == 89  # 44.80 × 2 on the birthday
    assert till.quote(cid, CART)["adjustments"] == []  # used this birthday already


def test_points_as_payment_are_capped_at_half_the_ticket_and_by_the_balance(shop):
    till = shop.till
    cid = till.customer("13900139002")
    till.sell(cid, "1000.00")  # 1,000 points (points earned in 2020 would have expired long ago)
    points = lambda q: [a for a in q["adjustments"] if a["code"] == "points"]  # noqa: E731
    capped = points(till.quote(cid, CART, redeem_points="max"))[0]
    assert (capped["amount"], capped["data"]["points"]) == ("-10.00", 1000)  # the balance is the limit here
    big = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "15.00"}]
    capped = points(till.quote(cid, big, redeem_points=1000))[0]
    assert (capped["amount"], capped["data"]["points"], capped["data"]["max_points"]) == ("-7.50", 750, 750)  # 50% of ¥15
    assert points(till.quote(cid, big, redeem_points=300))[0]["amount"] == "-3.00"
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    r = owner.put("/stores/SH001/plugins/membership/settings", {"redemption_enabled": False})
    assert r.status_code == 200, r.json
    r = shop.api.post("/sales/quote", {"lines": big, "customer": {"id": cid}, "options": {"redeem_points": 300}},
                      token=shop.chain.till)
    assert (r.status_code, r.json["error"]["fields"]) == (422, {"options.redeem_points": [
        "Points are not taken as payment in this store."]})  # this store's till does not take points


def test_member_day_discount_and_points_multiplier(shop):
    till = shop.till
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    today = shanghai_today()
    r = owner.post("/membership/member-days", {"store": "SH001", "name": "会员日", "weekday": today.weekday(),
                                               "discount_percent": "10", "points_multiplier": "3"})
    assert r.status_code == 201, r.json
    r = owner.post("/membership/member-days", {"store": "SH001", "name": "no rule"})
    assert r.status_code == 400 and "weekday" in r.json["error"]["fields"]
    cid = till.customer("13900139003")
    till.sell(cid, "1000.00", occurred_at="2020-01-01T10:00:00+08:00")
    quote = till.quote(cid, CART)
    assert [(a["code"], a["amount"]) for a in quote["adjustments"]] == [("member_day", "-5.60")]
    sale = till.sell(cid, lines=CART, adjustments=quote["adjustments"])
    assert sale["effects"]["membership"]["points_earned"] == 151  # ¥50.40 × 3
    # seed 002's "the 8th of each month" works the same way
    r = owner.post("/membership/member-days", {"store": "SH001", "name": "8号", "day_of_month": 8, "points_multiplier": "2"})
    assert r.status_code == 201
    eighth_day = next(d for d in (datetime(2026, 12, 8), datetime(2027, 1, 8)) if d.weekday() != today.weekday())
    eighth = till.sell(cid, "10.00", occurred_at=eighth_day.strftime("%Y-%m-%dT10:00:00+08:00"))
    assert eighth["effects"]["membership"]["points_earned"] == 20


class Channel:
    """A tiny message-channel plugin standing in for campaigns."""

    def __init__(self):
        self.sent = []

    @hookimpl
    def customer_notification(self, customer, topic, data, ctx):
        self.sent.append((customer.id, topic, data["tier"], ctx.store.code))
        return True


def test_upgrades_are_notified_through_a_channel_plugin_and_on_the_timeline(make_app):
    from core.extensions import db
    from core.models import Activity

    channel = Channel()
    app = make_app(plugins=[Manifest(name="channel", version="1.0", summary="test channel", hooks=channel)])
    chain = build_chain(app)
    enable(app, "SH001", "membership")
    till = Till(Api(app.test_client()), chain.till)
    cid = till.customer("13900139004")
    till.sell(cid, "3000.00")
    assert channel.sent == []  # the channel plugin is not enabled in SH001: nobody is asked
    enable(app, "SH001", "channel")
    till.sell(cid, "2000.00")
    assert channel.sent == [(cid, "membership.upgrade", "gold", "SH001")]
    with app.app_context():
        last = db.session.scalars(select(Activity).where(Activity.customer_id == cid, Activity.kind == "tier_change")
                                  .order_by(Activity.id.desc())).first()
        assert (last.data["from"], last.data["to"], last.data["notified"]) == ("silver", "gold", True)


def test_a_sale_reaching_a_tier_answers_with_it_and_tells_the_customer_once_after_the_commit(make_app):
    """The till's answer carries the new tier, decided in the sale's transaction; the message
    and the webhook go after the commit, in membership's second delivery (issue 23), so a slow
    channel never holds the till. A retried delivery does not tell the customer twice."""
    from core import events
    from core.extensions import db
    from core.models import Activity, EventDelivery, Sale
    from tests.test_after_commit import committed
    from tests.webhooks.receiver import Receiver
    from tests.webhooks.test_delivery import ALLOW, subscribe

    class Watching(Channel):
        @hookimpl
        def customer_notification(self, customer, topic, data, ctx):
            with app.app_context():
                last = db.session.scalar(select(func.max(Sale.id)))
            self.sent.append((customer.id, topic, data["tier"], data["previous_tier"], committed(last)))
            return True

    channel = Watching()
    app = make_app(plugins=[Manifest(name="channel", version="1.0", summary="test channel", hooks=channel)], **ALLOW)
    chain = build_chain(app)
    enable(app, "SH001", "membership", "channel")
    api = Api(app.test_client())
    till = Till(api, chain.till)
    cid = till.customer("13900139004")
    till.sell(cid, "3000.00")
    channel.sent.clear()
    with Receiver() as receiver:
        subscribe(api, chain, receiver.url, ["sale.recorded", "membership.tier_changed"])
        crossing = till.sell(cid, "2000.00")
        assert (crossing["effects"]["membership"]["tier"], crossing["effects"]["membership"]["upgraded"]) == (
            "gold", True)
        # told once, and only once the sale was committed
        assert channel.sent == [(cid, "membership.upgrade", "gold", "silver", True)]
        assert receiver.types == ["sale.recorded", "membership.tier_changed"]
        assert receiver.requests[1]["body"]["data"] == {"customer_id": cid, "from": "silver", "to": "gold",
                                                        "direction": "upgrade", "reason": "spend reached ¥5000.00"}
        with app.app_context():
            mine = {d.plugin: (d.status, d.attempts) for d in db.session.scalars(
                select(EventDelivery).join(EventDelivery.event).where(
                    EventDelivery.plugin.like("membership%"))
                .where(EventDelivery.event.has(subject_id=crossing["id"])))}
            assert mine == {"membership": ("done", 1), "membership.after_commit": ("done", 1)}
            change = db.session.scalars(select(Activity).where(Activity.customer_id == cid,
                                                               Activity.kind == "tier_change")
                                        .order_by(Activity.id.desc())).first()
            assert (change.data["to"], change.data["key"], change.data["notified"]) == (
                "gold", f"sale:{crossing['id']}", True)
            follow_up = db.session.scalars(select(EventDelivery).where(
                EventDelivery.plugin == "membership.after_commit",
                EventDelivery.event.has(subject_id=crossing["id"]))).one()
            follow_up.status = "failed"  # delivered again (a replay): the change is noted as announced
            db.session.commit()
            assert events.retry_delivery(follow_up.id) == "done"
        assert len(channel.sent) == 1 and receiver.types == ["sale.recorded", "membership.tier_changed"]
        # a sale that reaches no tier tells nobody
        till.sell(cid, "10.00")
        assert len(channel.sent) == 1 and receiver.types.count("membership.tier_changed") == 1


def test_a_redelivered_sale_or_refund_never_doubles_points(shop):
    from core.events import retry_delivery
    from core.extensions import db
    from core.models import EventDelivery, Refund, Sale, Store
    from core.plugins import HookContext
    from plugins.membership.models import PointsEntry

    till = shop.till
    cid = till.customer("13900139005")
    sale = till.sell(cid, "1500.00")
    refund = till.refund(sale["id"], [{"sku": "BEANS-1KG", "quantity": 1}])
    with shop.app.app_context():
        reg = shop.app.extensions["storecrm.plugins"]
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        ctx = HookContext(session=db.session, store=store, registry=reg, plugin="membership", actor="test")
        row = db.session.get(Sale, sale["id"])
        for _ in range(2):  # the same events delivered again, as a retry after a crash would
            reg.caller_for("sale_recorded", "membership")(sale=row, ctx=ctx)
            reg.caller_for("sale_refunded", "membership")(sale=row, refund=db.session.get(Refund, refund["id"]), ctx=ctx)
            db.session.commit()
        for delivery in db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == "membership")).all():
            assert retry_delivery(delivery.id) == "done"
        assert db.session.scalar(select(func.count()).select_from(PointsEntry).where(PointsEntry.customer_id == cid)) == 2
    assert till.member(cid)["points_balance"] == 0 and till.member(cid)["lifetime_spend"] == "0.00"
    assert ledger_sum(shop.app, cid) == (0, 0)


def test_export_merge_and_erase_handle_membership_records(shop):
    from core.extensions import db
    from core.models import Customer
    from core.plugins import HookContext
    from plugins.membership.models import Member, PointsEntry

    till = shop.till
    kept, merged = till.customer("13900139006"), till.customer("13900139007")
    till.sell(kept, "1000.00")
    till.sell(merged, "3000.00")
    with shop.app.app_context():
        reg = shop.app.extensions["storecrm.plugins"]
        ctx = HookContext(session=db.session, registry=reg, plugin="membership", actor="test")
        exported = reg.caller_for("customer_export", "membership")(customer=db.session.get(Customer, merged), ctx=ctx)[0]
        assert exported["tier"] == "silver" and exported["points_balance"] == 3600 and len(exported["ledger"]) == 1
        reg.caller_for("customer_merged", "membership")(kept=db.session.get(Customer, kept),
                                                        merged=db.session.get(Customer, merged), ctx=ctx)
        db.session.commit()
        member = db.session.get(Member, kept)
        assert (member.tier.code, member.points_balance, member.lifetime_spend) == ("silver", 4600, 4000)
        reg.caller_for("customer_erased", "membership")(customer_id=kept, ctx=ctx)
        db.session.commit()
        assert db.session.get(Member, kept) is None
        assert db.session.scalar(select(func.count()).select_from(PointsEntry).where(PointsEntry.customer_id == kept)) == 0


def test_a_sale_claiming_more_points_than_the_balance_is_refused_and_nothing_is_written(shop):
    """Once kept with a failed delivery (points given away); now refused before it is written."""
    from core.extensions import db
    from core.models import Event, Sale

    till = shop.till
    cid = till.customer("13900139008")
    till.sell(cid, "1000.00")  # 1,000 points
    # another till spent them meanwhile; this till still applies its earlier quote for 800
    shop.api.post(f"/membership/members/{cid}/redemptions", {"points": 900}, token=shop.chain.till)
    r = till.sell(cid, lines=CART, adjustments=[{"source": "membership", "code": "points", "amount": "-8.00",
                                                 "data": {"points": 800}}], options={"redeem_points": 800},
                  external_id="stale-quote", expect=422)
    assert r["error"]["code"] == "unprocessable"
    assert r["error"]["fields"] == {"options.redeem_points": ["The balance is 100 points; 800 were asked for."]}
    assert till.member(cid)["points_balance"] == 100  # never negative
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale).where(Sale.external_id == "stale-quote")) == 0
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.name == "sale_recorded")) == 1
    # a fresh quote offers what is left; that sale goes through and books once
    quote = till.quote(cid, CART, redeem_points="max")
    points = [a for a in quote["adjustments"] if a["code"] == "points"]
    assert points[0]["data"]["points"] == 100
    r = till.sell(cid, lines=CART, adjustments=points, options={"redeem_points": "max"}, external_id="stale-quote")
    assert r["effects"]["membership"]["points_redeemed"] == 100
    assert ledger_sum(shop.app, cid) == (r["effects"]["membership"]["balance"],) * 2


def test_loyal_member_price_is_a_discount_on_full_price_goods_only(shop):
    """Seed 002: 忠实会员 get 9折 on full-price goods — a tier perk here."""
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    silver = next(t for t in owner.get("/membership/tiers?store=SH001").json if t["code"] == "silver")
    r = owner.patch(f"/membership/tiers/{silver['id']}", {"store": "SH001", "full_price_discount_percent": "10"})
    assert r.status_code == 200 and r.json["full_price_discount_percent"] == "10.00"
    till = shop.till
    cid = till.customer("13900139009")
    till.sell(cid, "3000.00", occurred_at="2020-01-01T10:00:00+08:00")
    cart = [{"sku": "LATTE-M", "quantity": 2}, {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "30.00"}]
    quote = till.quote(cid, cart)
    assert [(a["code"], a["amount"]) for a in quote["adjustments"]] == [("member_price", "-5.60")]  # 10% of ¥56 only
    ordinary = till.customer("13900139010")
    till.sell(ordinary, "1000.00", occurred_at="2020-01-01T10:00:00+08:00")
    assert till.quote(ordinary, cart)["adjustments"] == []


def test_a_negative_fractional_or_non_numeric_redeem_points_is_refused_naming_the_balance(shop):
    """At the quote and at the sale: 422 on options.redeem_points, with the balance, nothing written."""
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import Sale

    till = shop.till
    cid = till.customer("13900139077")
    till.sell(cid, "1000.00")  # 1,000 points (a member from the first tier's threshold)
    lines = [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "100.00"}]
    whole = "Give a whole number of points or \"max\"; the balance is 1000 points."
    expected = [(-5, "Give a positive number of points; the balance is 1000 points."),
                ("-5", whole), (1.5, whole), ("abc", whole), (True, whole), ([100], whole)]
    with shop.app.app_context():
        sales_before = db.session.scalar(select(func.count()).select_from(Sale))
    for value, message in expected:
        for path in ("/sales/quote", "/sales"):
            body = {"lines": lines, "customer": {"id": cid}, "options": {"redeem_points": value}}
            if path == "/sales":
                body["external_id"] = f"bad-redeem-{value!r}"
            r = shop.api.post(path, body, token=shop.chain.till)
            assert r.status_code == 422, (path, value, r.json)
            assert r.json["error"]["fields"] == {"options.redeem_points": [message]}, (path, value)
            assert r.json["error"]["balance"] == 1000, (path, value)
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == sales_before
    assert till.member(cid)["points_balance"] == 1000
