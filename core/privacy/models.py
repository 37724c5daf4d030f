"""The core's privacy records: data-subject requests and each store's retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import Store
from core.models.types import UTCDateTime, utcnow

REQUEST_KINDS = ("access", "correct", "export", "delete")
REQUEST_STATUSES = ("open", "done", "rejected")
# PIPL art. 50 asks for a timely answer; the stores answer within 30 days (domain.md).
REQUEST_DUE = timedelta(days=30)


class PrivacyRequest(db.Model):
    """A customer's request to see, correct, export or delete their data, with its due date."""

    __tablename__ = "privacy_request"
    __table_args__ = (Index("ix_privacy_request_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"), index=True)
    # Set NULL when the person is erased: the request stays as proof that it was answered.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    channel: Mapped[str | None] = mapped_column(String(32))  # counter, phone, email, wechat...
    note: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    store: Mapped[Store | None] = relationship()


class StorePrivacy(db.Model):
    """A store's privacy settings. `retention_days` None keeps inactive customers' data."""

    __tablename__ = "store_privacy"

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), primary_key=True)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
