from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime, utcnow


class IdempotencyKey(db.Model):
    """A create sent with an `Idempotency-Key` header: what was asked (hashes only) and the
    first answer, replayed to a repeat of the same request by the same token (docs/api.md).

    `status` is NULL while the first request runs; the unique constraint makes a concurrent
    duplicate find that row instead of doing the work twice."""

    __tablename__ = "api_idempotency_key"
    __table_args__ = (
        UniqueConstraint("token_id", "key", name="uq_api_idempotency_key_token_key"),
        Index("ix_api_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # "POST /api/v1/sales/7/refunds": a key names one request to one operation.
    operation: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    # Top-level body field -> hash of its value: lets a mismatch name the fields that differ
    # without keeping what was sent.
    fingerprint: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
