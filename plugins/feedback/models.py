"""Feedback tables (all prefixed `feedback_`): feedback entries, complaints with their history,
breach alerts (one per complaint and deadline) and satisfaction surveys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

CATEGORIES = ("product_quality", "service_attitude", "environment", "price", "other")
CHANNELS = ("comment_book", "survey", "website", "social", "counter")
STATES = ("new", "acknowledged", "in_progress", "resolved", "closed")
OPEN_STATES = ("new", "acknowledged", "in_progress")
# The state machine: from each state, the states a ticket may move to. Moving a resolved or
# closed ticket back to in_progress is the reopening.
TRANSITIONS = {
    "new": ("acknowledged", "in_progress", "resolved"),
    "acknowledged": ("in_progress", "resolved"),
    "in_progress": ("resolved",),
    "resolved": ("closed", "in_progress"),
    "closed": ("in_progress",),
}
BREACH_KINDS = ("first_response", "resolution")
SURVEY_STATES = ("pending", "sent", "no_channel", "skipped", "answered")


class FeedbackEntry(db.Model):
    """One piece of feedback (顾客反馈): a rating 1–5 with a category and text, from any channel."""

    __tablename__ = "feedback_entry"
    __table_args__ = (
        Index("ix_feedback_entry_store_time", "store_id", "created_at"),
        Index("ix_feedback_entry_staff_time", "staff_id", "created_at"),
        Index("ix_feedback_entry_customer", "customer_id"),
        # The public form's rate limit counts recent entries per address and store.
        Index("ix_feedback_entry_ip", "ip_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    rating: Mapped[int] = mapped_column(SmallInteger)
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    # A keyed hash of the sender's address (public form only): enough to rate-limit, not to trace.
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    store = relationship("Store")
    customer = relationship("Customer")
    staff = relationship("User")


class Complaint(db.Model):
    """A complaint ticket (投诉). Deadlines are fixed when it is made, from the store's settings:
    `first_response_due_at` = made + 24 h, `resolution_due_at` = made + 7 days (elapsed time)."""

    __tablename__ = "feedback_complaint"
    __table_args__ = (
        Index("ix_feedback_complaint_store_state", "store_id", "state"),
        Index("ix_feedback_complaint_customer", "customer_id", "id"),
        Index("ix_feedback_complaint_handler", "handled_by_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    # The staff member the complaint is about (their service figures), and who handles it.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16), default="counter")
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_responder_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    # What was done: {"apology": bool, "replacement": str, "compensation": str, "coupon": {...}}
    resolution: Mapped[dict] = mapped_column(JSON, default=dict)
    # How the customer heard we have it: "notification" (a channel took it), "timeline", or None.
    acknowledgement: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100), default="system")

    store = relationship("Store")
    customer = relationship("Customer")
    staff = relationship("User", foreign_keys=[staff_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    history: Mapped[list["ComplaintTransition"]] = relationship(
        back_populates="complaint", order_by="ComplaintTransition.id", cascade="all, delete-orphan")


class ComplaintTransition(db.Model):
    """One move of a ticket, with who made it and when (the ticket's history)."""

    __tablename__ = "feedback_complaint_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("feedback_complaint.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="history")
    actor_user = relationship("User")


class BreachAlert(db.Model):
    """An SLA breach, raised once: the unique (complaint, kind) makes a second job run, even a
    concurrent one, insert nothing and tell no one again."""

    __tablename__ = "feedback_breach_alert"
    __table_args__ = (UniqueConstraint("complaint_id", "kind", name="uq_feedback_breach_alert_complaint_kind"),
                      Index("ix_feedback_breach_alert_store", "store_id", "raised_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("feedback_complaint.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # True when a channel (campaigns) took the message to the managers; the row and the
    # dashboard tile are kept either way.
    notified: Mapped[bool] = mapped_column(default=False)

    complaint = relationship("Complaint")


class Survey(db.Model):
    """A satisfaction survey (满意度回访) owed after a sale or a resolved complaint. Its link is
    signed; the answer becomes a FeedbackEntry linked to the sale and the staff member."""

    __tablename__ = "feedback_survey"
    __table_args__ = (
        UniqueConstraint("sale_id", name="uq_feedback_survey_sale"),
        UniqueConstraint("complaint_id", name="uq_feedback_survey_complaint"),
        Index("ix_feedback_survey_state", "state", "store_id"),
        Index("ix_feedback_survey_customer", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_complaint.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # When the reason happened (the sale, the resolution); the job adds the store's delay.
    reason_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_entry.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
