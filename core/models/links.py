"""A customer linked to a store beyond their home store, sales and visits (domain.md,
"Privacy and access"): the person presented their full phone or member card at that counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

LINK_REASONS = ("serve_here", "sale", "visit")


class CustomerStoreLink(db.Model):
    """Who linked whom, where and when: one row per (customer, store), kept for the audit.

    The audit log records the same act; this row is what the visibility rule reads."""

    __tablename__ = "customer_store_link"
    __table_args__ = (UniqueConstraint("customer_id", "store_id", name="uq_customer_store_link"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(32))  # one of LINK_REASONS
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    linked_by: Mapped[str] = mapped_column(String(120))  # the user's name or the till token's
