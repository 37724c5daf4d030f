from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto import EncryptedText, cipher
from core.extensions import db
from core.models.store import Store
from core.models.types import UTCDateTime, utcnow

CONSENT_CHANNELS = ("sms", "email", "wechat", "phone_call")
SOURCE_CHANNELS = ("walk_in", "online_shop", "social", "import", "referral", "till")


def last4_key(phone: str) -> str:
    """What the last-four-digits blind index hashes (a prefix keeps it apart from full phones)."""
    return "last4:" + "".join(ch for ch in phone if ch.isdigit())[-4:]


class Customer(db.Model):
    """One person across the chain (客户档案): one phone, one profile, a home store."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    gender: Mapped[str | None] = mapped_column(String(16))
    # Many customers give only month and day; the year stays empty then.
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    # Personal data: encrypted at rest, with a keyed hash for exact lookup.
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The counter finds a customer by the last four digits: a keyed hash of them (not the digits,
    # so the table alone does not give them away), shared by many customers, hence not unique.
    phone_last4_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(EncryptedText)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(EncryptedText)
    wechat_id: Mapped[str | None] = mapped_column(String(100))
    # Traits (seed 004)
    occupation: Mapped[str | None] = mapped_column(String(200))
    household: Mapped[str | None] = mapped_column(String(200))
    personality: Mapped[str | None] = mapped_column(String(200))
    hobbies: Mapped[list] = mapped_column(JSON, default=list)
    needs: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # What a clerk reads at the counter: {"coffee": "hot, no sugar", "size": "M"}
    preferences: Mapped[dict] = mapped_column(JSON, default=dict)
    source_channel: Mapped[str | None] = mapped_column(String(32))
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    home_store: Mapped[Store | None] = relationship()
    tag_rows: Mapped[list["CustomerTag"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )

    def set_phone(self, normalised: str | None) -> None:
        self.phone = normalised
        self.phone_hash = cipher().lookup_hash(normalised) if normalised else None
        self.phone_last4_hash = cipher().lookup_hash(last4_key(normalised)) if normalised else None

    def set_email(self, email: str | None) -> None:
        email = (email or "").strip().lower() or None
        self.email = email
        self.email_hash = cipher().lookup_hash(email) if email else None

    @property
    def tags(self) -> list[str]:
        return sorted(t.tag for t in self.tag_rows)

    def set_tags(self, tags) -> None:
        wanted = {t.strip() for t in tags if t and t.strip()}
        self.tag_rows = [t for t in self.tag_rows if t.tag in wanted] + [
            CustomerTag(tag=t) for t in sorted(wanted - {r.tag for r in self.tag_rows})
        ]

    @property
    def birthday(self) -> str | None:
        """`1985-03-12`, or `--03-12` (ISO 8601 without year) when only month and day are known."""
        if not (self.birth_month and self.birth_day):
            return None
        if self.birth_year:
            return f"{self.birth_year:04d}-{self.birth_month:02d}-{self.birth_day:02d}"
        return f"--{self.birth_month:02d}-{self.birth_day:02d}"

    def age(self, today: date) -> int | None:
        if not (self.birth_year and self.birth_month and self.birth_day):
            return None
        return today.year - self.birth_year - ((today.month, today.day) < (self.birth_month, self.birth_day))

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name}>"


class CustomerTag(db.Model):
    __tablename__ = "customer_tag"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

    customer: Mapped[Customer] = relationship(back_populates="tag_rows")


class Consent(db.Model):
    """One grant or withdrawal of marketing consent for a channel; the latest row stands."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_lookup", "customer_id", "channel", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32), default="marketing")
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64), default="admin")  # how: paper form, till, API...
    proof: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Activity(db.Model):
    """The customer's timeline beyond sales and visits: calls, messages, notes, class changes."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # call, message, note, class_change, tier_change...
    source: Mapped[str] = mapped_column(String(64), default="core")  # core or a plugin's name
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
