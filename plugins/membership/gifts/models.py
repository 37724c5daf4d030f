"""The gift tables: what each tier's members get, and each gift issued."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import MONEY, UTCDateTime, utcnow

GIFT_STATES = ("issued", "redeemed")


class GiftPlan(db.Model):
    """A tier's yearly gift: its name and what it takes off a sale at the till."""

    __tablename__ = "membership_gift_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("membership_tier.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[Decimal] = mapped_column(MONEY)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    tier = relationship("Tier")

    def __str__(self) -> str:
        return self.name


class Gift(db.Model):
    """One member's gift of one calendar year (the program's timezone); at most one a year."""

    __tablename__ = "membership_gift"
    __table_args__ = (UniqueConstraint("customer_id", "year", name="uq_membership_gift_customer_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("membership_gift_plan.id", ondelete="SET NULL"))
    year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[Decimal] = mapped_column(MONEY)
    state: Mapped[str] = mapped_column(String(16), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date] = mapped_column(Date)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer = relationship("Customer")
