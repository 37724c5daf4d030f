"""Member events' tables: the event, who was invited (and when their registration opens), and
who registered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

REGISTRATION_STATES = ("registered", "cancelled")


class MemberEvent(db.Model):
    """A members' event with a capacity. Members of `lowest_tier` and above are invited; the
    highest tier may register from `registration_opens_at`, each tier below `tier_lead_days`
    later than the one above it."""

    __tablename__ = "membership_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    lowest_tier_id: Mapped[int] = mapped_column(ForeignKey("membership_tier.id", ondelete="RESTRICT"))
    registration_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tier_lead_days: Mapped[int] = mapped_column(SmallInteger, default=3)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    store = relationship("Store")
    lowest_tier = relationship("Tier")

    def __str__(self) -> str:
        return self.name


class EventInvitation(db.Model):
    __tablename__ = "membership_event_invitation"
    __table_args__ = (UniqueConstraint("event_id", "customer_id", name="uq_membership_event_invitation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("membership_event.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tier.id", ondelete="SET NULL"))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventRegistration(db.Model):
    __tablename__ = "membership_event_registration"
    __table_args__ = (UniqueConstraint("event_id", "customer_id", name="uq_membership_event_registration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("membership_event.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="registered")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event = relationship("MemberEvent")
    customer = relationship("Customer")
