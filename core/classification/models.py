"""Tables of the classification: per-store settings, each customer's classes per scope, and
what the last full run used (cuts and percentiles), so every class can be explained."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import MONEY, UTCDateTime, utcnow

# Scope 0 is the whole chain; any other scope is a store id. An integer rather than a
# nullable store_id, because the pair (customer, scope) is the primary key.
CHAIN_SCOPE = 0


class ClassificationSettings(db.Model):
    """A store's thresholds (store_id set) or the chain's (store_id NULL; also the default
    for stores without their own). Validated by `core.classification.settings.SettingsSchema`."""

    __tablename__ = "classification_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), unique=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomerClass(db.Model):
    """One customer's classes in one scope, with the numbers they were given on.

    A customer without a row in a scope never bought there: a prospect. Only what is stable
    from day to day is stored (ranks and "days since" are counted when shown), so the nightly
    run rewrites just the rows whose classes or numbers changed."""

    __tablename__ = "customer_class"
    __table_args__ = (
        # A scope's rows (panels, the deletes of a full run) and the spend rank the reasons show.
        # No more: every index costs each nightly write and each sale's upsert (core_0006).
        Index("ix_customer_class_scope_amount", "scope_id", "amount"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_purchase_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_purchase_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purchases_ever: Mapped[int] = mapped_column(Integer)
    purchases: Mapped[int] = mapped_column(Integer)  # in the window
    amount: Mapped[Decimal] = mapped_column(MONEY)  # net of refunds, in the window
    usual_gap_days: Mapped[float | None] = mapped_column(Float)
    amount_class: Mapped[str] = mapped_column(String(16))
    frequency_class: Mapped[str] = mapped_column(String(16))
    final_class: Mapped[str] = mapped_column(String(16))
    lifecycle: Mapped[str] = mapped_column(String(16))
    r_score: Mapped[int] = mapped_column(SmallInteger)
    f_score: Mapped[int] = mapped_column(SmallInteger)
    m_score: Mapped[int] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str] = mapped_column(String(24))
    # When these classes were last written; they hold as of the later of this and the scope's
    # last full run (an unchanged row is not rewritten).
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClassificationRun(db.Model):
    """The last full recompute of a scope: when, with which settings, and the store-relative
    cuts it found (percentile gaps for lifecycle), which incremental updates reuse."""

    __tablename__ = "classification_run"

    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    buyers: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    at_risk_gap_days: Mapped[int | None] = mapped_column(Integer)
    churned_gap_days: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(Float)


class ClassificationCut(db.Model):
    """A scope's store-relative cuts as values, so the per-sale update classifies one customer
    against them instead of ranking every customer again: the spend at the top-20% and top-50%
    cuts, the lowest purchases / spend / highest recency that still earn F, M, R scores 5, 4,
    3 and 2, and the percentile purchase gaps. Written by each full recompute (source "full"),
    or once on demand for a scope that has none yet (source "on_demand")."""

    __tablename__ = "classification_cut"

    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    buyers: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    high_amount: Mapped[Decimal | None] = mapped_column(MONEY)  # NULL: no buyer yet, any buyer is top
    medium_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    # [score 5, 4, 3, 2] cuts; R as days since the last purchase as of computed_at.
    f_cuts: Mapped[list | None] = mapped_column(JSON)
    m_cuts: Mapped[list | None] = mapped_column(JSON)  # amounts as strings (exact money)
    r_cuts: Mapped[list | None] = mapped_column(JSON)
    at_risk_gap_days: Mapped[int | None] = mapped_column(Integer)
    churned_gap_days: Mapped[int | None] = mapped_column(Integer)
