"""Campaigns tables (all prefixed `campaigns_`): segments, campaigns with their fixed
recipients (target or control), every message (the unique claim that makes a send happen at
most once per campaign step and customer), coupon batches and codes with their redemptions,
call tasks for follow-ups and notices to staff."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import MONEY, UTCDateTime, utcnow

PERCENT = Numeric(5, 2, asdecimal=True)
UNIT_COST = Numeric(10, 4, asdecimal=True)  # a message can cost a fraction of a cent

CAMPAIGN_KINDS = ("holiday", "anniversary", "theme", "joint")
CAMPAIGN_STATES = ("draft", "sending", "waiting", "sent", "budget_spent", "cancelled")
MESSAGE_PURPOSES = ("marketing", "care", "transactional")
MESSAGE_STATES = ("queued", "claimed", "sent", "failed", "uncertain", "skipped")
COUPON_KINDS = ("amount", "percent", "gift")
COUPON_STATES = ("issued", "used", "void")
CALL_OUTCOMES = ("reached", "no_answer", "declined", "wrong_number")


class Segment(db.Model):
    """A saved audience: filters compiled to one SQL query over customers (services.segments)."""

    __tablename__ = "campaigns_segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponBatch(db.Model):
    """A coupon definition; its codes are `Coupon` rows. `store_ids` empty = the issuing store
    only; a joint campaign lists partner stores that may redeem too."""

    __tablename__ = "campaigns_coupon_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # amount, percent, gift
    value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))  # yuan off, or percent off
    gift: Mapped[str | None] = mapped_column(String(200))  # what a gift coupon gives
    min_spend: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # from issue, when no fixed window
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    partner_store_ids: Mapped[list] = mapped_column(JSON, default=list)
    partner_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Coupon(db.Model):
    """One unique code. `customer_id` set: only that customer may use it."""

    __tablename__ = "campaigns_coupon"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("campaigns_coupon_batch.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_campaign.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batch: Mapped[CouponBatch] = relationship(lazy="joined")


class Redemption(db.Model):
    """A coupon used in a sale: the discount given; `restored_at` when a refund gave it back."""

    __tablename__ = "campaigns_redemption"
    __table_args__ = (UniqueConstraint("coupon_id", "sale_id", name="uq_campaigns_redemption_coupon_sale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("campaigns_coupon.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("campaigns_coupon_batch.id", ondelete="CASCADE"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_campaign.id", ondelete="SET NULL"), index=True)
    discount: Mapped[Decimal] = mapped_column(MONEY)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Campaign(db.Model):
    __tablename__ = "campaigns_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="theme")
    segment_id: Mapped[int] = mapped_column(ForeignKey("campaigns_segment.id", ondelete="RESTRICT"))
    channel: Mapped[str] = mapped_column(String(32), default="email")
    subject_zh: Mapped[str] = mapped_column(String(300), default="")
    body_zh: Mapped[str] = mapped_column(Text, default="")
    subject_en: Mapped[str] = mapped_column(String(300), default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    coupon_batch_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_coupon_batch.id", ondelete="SET NULL"))
    budget: Mapped[Decimal | None] = mapped_column(MONEY)
    cost_per_message: Mapped[Decimal] = mapped_column(UNIT_COST, default=Decimal("0"))
    cost_per_redemption: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    control_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("10"))
    attribution_days: Mapped[int] = mapped_column(SmallInteger, default=30)
    partner_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # quiet hours: the morning
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)  # the segment when fixed
    excluded_no_consent: Mapped[int] = mapped_column(Integer, default=0)
    # What the claimed messages cost so far, kept on the (locked) campaign row so the budget
    # check before each batch reads one row, not every message.
    messages_cost: Mapped[Decimal] = mapped_column(Numeric(12, 4, asdecimal=True), default=Decimal("0"))
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recipient(db.Model):
    """Who a campaign is for, fixed before the first send: `control` are never messaged."""

    __tablename__ = "campaigns_recipient"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns_campaign.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    shard: Mapped[int] = mapped_column(SmallInteger, default=0)


class Message(db.Model):
    """One message to one customer. The unique (campaign, step, customer) row is claimed and
    committed before the channel is called, so a retry never sends it again; care and
    transactional messages use `dedupe_key` for the same purpose."""

    __tablename__ = "campaigns_message"
    __table_args__ = (
        UniqueConstraint("campaign_id", "step", "customer_id", name="uq_campaigns_message_step_customer"),
        Index("ix_campaigns_message_customer_sent", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_campaign.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(SmallInteger, default=1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16), default="marketing")
    topic: Mapped[str] = mapped_column(String(64), default="campaign")
    address: Mapped[str | None] = mapped_column(Text)  # kept only until erasure
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    provider_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(UNIT_COST, default=Decimal("0"))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEntry(db.Model):
    """What the built-in outbox channel "sent": kept for export or for sending by hand."""

    __tablename__ = "campaigns_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_message.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallTask(db.Model):
    """A follow-up call on a staff member's list; its outcome recorded when done."""

    __tablename__ = "campaigns_call_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    due_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
