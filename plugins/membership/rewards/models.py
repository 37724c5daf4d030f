"""The rewards catalogue's tables: the items and each member's redemptions of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

REWARD_KINDS = ("goods", "service")
REDEMPTION_STATES = ("redeemed", "returned")


class Reward(db.Model):
    """An item of the catalogue, priced in points; `sku` ties goods to a catalogue product whose
    stock inventory keeps (when inventory is on in the store)."""

    __tablename__ = "membership_reward"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="goods")
    points: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __str__(self) -> str:
        return self.name


class RewardRedemption(db.Model):
    """A member took `quantity` of a reward for `points` (the ledger's redeem entry); a return
    gives the points back to the lots they came from (those not expired meanwhile)."""

    __tablename__ = "membership_reward_redemption"
    __table_args__ = (Index("ix_membership_reward_redemption_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("membership_reward.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="redeemed")
    stock_kept: Mapped[bool] = mapped_column(Boolean, default=False)  # inventory took it out of stock
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("membership_points_entry.id", ondelete="SET NULL"))
    return_entry_id: Mapped[int | None] = mapped_column(ForeignKey("membership_points_entry.id", ondelete="SET NULL"))
    points_returned: Mapped[int] = mapped_column(Integer, default=0)
    points_expired: Mapped[int] = mapped_column(Integer, default=0)  # lots past their date at the return
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str | None] = mapped_column(String(300))

    reward: Mapped[Reward] = relationship()
    customer = relationship("Customer")
    store = relationship("Store")
