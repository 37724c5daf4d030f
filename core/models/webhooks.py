"""Webhooks: an owner's subscription of a URL to event types, and each delivery of an event to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto import EncryptedText
from core.extensions import db
from core.models.store import Store
from core.models.types import UTCDateTime, utcnow

DELIVERY_STATES = ("pending", "retrying", "delivered", "failed")


class WebhookSubscription(db.Model):
    """A URL that receives the events it names, of one store or (store NULL) of the whole chain."""

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    # The signing secret, encrypted at rest (core.crypto); shown once, when the subscription is made.
    secret: Mapped[str] = mapped_column(EncryptedText)
    # Masked by default: phone and e-mail masked, the name reduced to its first character.
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    store: Mapped[Store | None] = relationship()


class WebhookDelivery(db.Model):
    """One event for one subscription: its signed body and where its sending stands.

    Unique per (subscription, event): fanning an event out twice never sends it twice."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_subscription_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        # Order per customer: "is an earlier one of this customer still on its way?"
        Index("ix_webhook_delivery_order", "subscription_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # The ordering key (not a foreign key: the history outlives a merge or an erasure).
    customer_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)  # NULL once the customer is erased: a redacted body is sent
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retries run for the retry window from here (reset by a replay).
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    subscription: Mapped[WebhookSubscription] = relationship()
