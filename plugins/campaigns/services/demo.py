"""`demo_seed`: a past campaign in a demo store — loyal and at-risk customers who had not bought
for a while, an outbox message to each consented target, a 10% control group never messaged,
and some coupons redeemed in the demo's sales. Idempotent: one demo campaign per store."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.models import Customer, Sale
from plugins.campaigns.models import Campaign, CouponBatch, Message, Recipient, Redemption, Segment
from plugins.campaigns.services import coupons

# The demo chain's stores are Chinese shops: their data reads in Chinese, like a real one's.
DEMO_NAME = "中秋回馈"
EARLIER_NAMES = (DEMO_NAME, "中秋回馈 · Mid-Autumn thank-you")  # a demo built before keeps its one campaign


def seed(session, store, rng, today, ctx) -> None:
    if session.scalar(select(Campaign.id).where(Campaign.store_id == store.id, Campaign.name.in_(EARLIER_NAMES))):
        return
    started = datetime.combine(today - timedelta(days=40), time(10), tzinfo=ZoneInfo(store.timezone))
    segment = Segment(store_id=store.id, name="忠诚客户", filters={"final_class": ["loyal", "key"]},
                      created_by="demo")
    batch = CouponBatch(store_id=store.id, name="满100减15", kind="amount", value=Decimal("15.00"),
                        min_spend=Decimal("100.00"), valid_days=30, per_customer_limit=1)
    session.add_all([segment, batch])
    session.flush()
    campaign = Campaign(store_id=store.id, name=DEMO_NAME, kind="holiday", segment_id=segment.id, channel="outbox",
                        subject_zh="中秋快乐", body_zh="{{ name }}，{{ store }}祝您中秋快乐！凭券码 {{ coupon_code }} 满100减15。",
                        subject_en="Happy Mid-Autumn", body_en="{{ name }}, happy Mid-Autumn from {{ store }}! Code {{ coupon_code }}: ¥15 off ¥100.",
                        coupon_batch_id=batch.id, budget=Decimal("200.00"), cost_per_message=Decimal("0.05"),
                        cost_per_redemption=Decimal("1.00"), control_percent=Decimal("10"), status="sent",
                        messages_cost=Decimal("0"),
                        started_at=started, finished_at=started + timedelta(hours=1), created_by="demo")
    session.add(campaign)
    session.flush()
    buyers = list(session.scalars(select(Sale.customer_id).where(Sale.store_id == store.id, Sale.customer_id.isnot(None),
                                                                 Sale.occurred_at < started).distinct().limit(200)))
    buyers.sort()
    if not buyers:
        return
    control = set(rng.sample(buyers, max(1, len(buyers) // 10)))
    session.add_all([Recipient(campaign_id=campaign.id, customer_id=cid, is_control=cid in control, shard=cid % 2)
                     for cid in buyers])
    targets = [cid for cid in buyers if cid not in control]
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(targets)))}
    issued = coupons.issue_codes(session, batch, targets, campaign.id)
    for coupon in issued:
        customer = customers[coupon.customer_id]
        session.add(Message(campaign_id=campaign.id, customer_id=customer.id, store_id=store.id, channel="outbox",
                            purpose="marketing", topic="campaign", subject="中秋快乐",
                            body=f"{customer.name}，{store.name}祝您中秋快乐！凭券码 {coupon.code} 满100减15。",
                            status="sent", cost=Decimal("0.05"), claimed_at=started, sent_at=started))
    campaign.messages_cost = Decimal("0.05") * len(issued)
    later = {s.customer_id: s for s in session.scalars(select(Sale).where(
        Sale.store_id == store.id, Sale.customer_id.in_(targets), Sale.occurred_at >= started,
        Sale.total >= Decimal("100.00")).order_by(Sale.occurred_at))}
    for coupon in issued:
        sale = later.get(coupon.customer_id)
        if sale is None or rng.random() > 0.5:
            continue
        coupon.status, coupon.used_sale_id = "used", sale.id
        session.add(Redemption(coupon_id=coupon.id, batch_id=batch.id, sale_id=sale.id, customer_id=sale.customer_id,
                               store_id=store.id, campaign_id=campaign.id, discount=Decimal("15.00"), at=sale.occurred_at))
    session.flush()


