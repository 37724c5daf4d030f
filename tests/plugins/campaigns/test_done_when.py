"""The issue's "done when": a manager builds "loyal customers who have not bought for 60 days",
sends them a coupon by email with a 10% control group; a month later reads what it earned
against the control; nobody without consent, or over the cap, received anything."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.extensions import db
from core.models import utcnow


def _over_cap(shop, customer_id, times=2):
    """This customer already had `times` marketing messages this month (another campaign)."""
    from plugins.campaigns.models import Message

    with shop.app.app_context():
        for i in range(times):
            db.session.add(Message(customer_id=customer_id, channel="email", purpose="marketing", status="sent",
                                   topic="campaign", dedupe_key=f"earlier-{customer_id}-{i}", claimed_at=utcnow(),
                                   sent_at=utcnow()))
        db.session.commit()


def test_loyal_lapsed_customers_get_a_coupon_by_email_and_the_report_compares_with_control(shop, mailbox):
    wanted = [shop.customer(f"忠诚{i}") for i in range(20)]
    no_consent = [shop.customer(f"未同意{i}", consent=()) for i in range(3)]
    recent = [shop.customer(f"近期{i}") for i in range(2)]
    regular = [shop.customer(f"普通{i}") for i in range(2)]
    capped = shop.customer("已满额")
    for cid in wanted + no_consent + regular + [capped]:
        shop.sell(cid, "120.00", days_ago=90)
    for cid in recent:
        shop.sell(cid, "120.00", days_ago=10)
    for cid in wanted + no_consent + recent + [capped]:
        shop.set_class(cid, "loyal")
    for cid in regular:
        shop.set_class(cid, "regular")
    _over_cap(shop, capped)

    seg = shop.post("/campaigns/segments", {"name": "忠诚但60天未购", "filters": {
        "final_class": ["loyal"], "last_purchase_days_min": 60}}, expect=201).json
    assert seg["count"] == 20 + 3 + 1  # loyal and lapsed, consent or not
    assert shop.get(f"/campaigns/segments/{seg['id']}", expect=200).json["count"] == 24

    batch = shop.post("/campaigns/coupons", {"name": "回归礼 9折", "kind": "percent", "value": "10.00",
                                             "min_spend": "50.00", "valid_days": 30}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {
        "name": "老客回归", "kind": "theme", "segment_id": seg["id"], "channel": "email",
        "subject_zh": "{{ name }}，好久不见", "body_zh": "{{ name }}，送您{{ coupon_label }}，券码 {{ coupon_code }}。",
        "coupon_batch_id": batch["id"], "control_percent": "10", "budget": "100.00"}, expect=201).json
    sent = shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202).json
    assert sent["status"] == "sent"
    assert sent["audience_size"] == 24 and sent["excluded_no_consent"] == 3

    from plugins.campaigns.models import Coupon, Recipient

    with shop.app.app_context():
        groups = dict(db.session.execute(select(Recipient.customer_id, Recipient.is_control)
                                         .where(Recipient.campaign_id == camp["id"])).all())
        codes = dict(db.session.execute(select(Coupon.customer_id, Coupon.code).where(Coupon.campaign_id == camp["id"])).all())
    assert set(groups) == set(wanted) | {capped}  # consented only
    control = {cid for cid, is_control in groups.items() if is_control}
    assert len(control) == 2  # 10% of 21, rounded
    expected = set(groups) - control - {capped}

    per_customer = shop.messages(camp["id"])
    assert set(per_customer) == expected and set(per_customer.values()) == {1}
    assert len(mailbox.received) == len(expected)  # the real SMTP server got exactly these
    for cid in no_consent + recent + regular + sorted(control) + [capped]:
        assert cid not in per_customer
    assert set(codes) == expected  # coupons only for those messaged

    # What a customer reads: their name, the coupon code, the store, an unsubscribe link.
    some = sorted(expected)[0]
    with shop.app.app_context():
        from core.models import Customer

        customer = db.session.get(Customer, some)
        address, name = customer.email, customer.name
    mail = mailbox.to(address)
    assert len(mail) == 1
    text = mail[0].get_content()
    assert name in text and codes[some] in text and "上海南京路店" in text
    assert "/api/v1/campaigns/unsubscribe/" in text and "退订" in text
    assert mail[0]["Subject"] == f"{name}，好久不见"

    # Five targets come back and use their coupon at the till (10% off 100.00).
    returning = sorted(expected)[:5]
    for cid in returning:
        quote = shop.api.post("/sales/quote", {"customer": {"id": cid}, "lines": [
            {"sku": "LATTE-M", "quantity": 1, "unit_price": "100.00"}], "options": {"coupon": codes[cid]}},
            token=shop.chain.till).json
        adj = [a for a in quote["adjustments"] if a["source"] == "campaigns"]
        assert adj[0]["amount"] == "-10.00" and quote["total"] == "90.00"
        shop.sell(cid, "100.00", adjustments=adj, options={"coupon": codes[cid]})  # the till asks; the server prices

    report = shop.get(f"/campaigns/campaigns/{camp['id']}/report", expect=200).json
    assert report["groups"]["target"]["customers"] == 19 and report["groups"]["control"]["customers"] == 2
    assert report["redemption"]["redeemed"] == 5 and report["redemption"]["issued"] == len(expected)
    assert report["redemption"]["rate"] == round(5 / len(expected), 4)
    assert report["groups"]["target"]["revenue"] == 450.0 and report["groups"]["control"]["revenue"] == 0.0
    effect = report["effect"]["revenue_per_customer"]
    assert effect["difference"] == round(450 / 19, 4)
    low, high = effect["ci95"]
    assert low < effect["difference"] < high
    assert effect["reliable"] is False  # two control customers: the report says it is not firm
    assert report["sends"]["skipped_over_cap"] == (0 if capped in control else 1)
    assert report["sends"]["excluded_no_consent"] == 3
    assert Decimal(report["budget"]["spent"]) == Decimal("0.01") * len(expected)
    assert report["roi"]["cost"] > 0
    # gross profit: (90 - 8 unit cost) per returning customer, none for control
    assert report["roi"]["incremental_gross_profit"] == round(82 * 5 / 19 * 19, 2)
    assert report["before_after"]["target"]["after"] == round(450 / 19, 2)
