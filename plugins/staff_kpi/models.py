"""staff_kpi tables (all prefixed `staff_kpi_`): the daily roll-up of sales and refunds per
store, salesperson and local day, a lock row per store for keeping it, and monthly targets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import User
from core.models.types import MONEY, QUANTITY, UTCDateTime, utcnow

# quantity (3 places) x unit cost (2 places): kept exact, so sums of days equal a sum of sales.
COST = Numeric(18, 5, asdecimal=True)

# What a roll-up row counts: the sales of that day, or refunds booked on the refund's local day,
# or refunds booked on the local day of the sale they undo. The store's `refund_attribution`
# setting picks one of the two refund kinds when a report is read; both are always kept.
KINDS = ("sale", "refund_at_refund", "refund_at_sale")


class DailyFigure(db.Model):
    """Sums for one store, one salesperson (None: sales with no salesperson), one local day, one kind."""

    __tablename__ = "staff_kpi_daily"
    __table_args__ = (
        Index("ix_staff_kpi_daily_store_day", "store_id", "day"),
        Index("ix_staff_kpi_daily_staff_day", "staff_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer, default=0)  # sales, or refunds
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))  # sale.total or refund.amount
    units: Mapped[Decimal] = mapped_column(QUANTITY, default=Decimal("0"))
    costed_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))  # lines with a unit cost
    cost: Mapped[Decimal] = mapped_column(COST, default=Decimal("0"))  # quantity x unit cost of those lines
    uncosted_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))  # lines without a cost


class SaleFact(db.Model):
    """One row per counted sale (a named customer, not refunded in full) of a store where the
    roll-up is kept: what the customer figures need, so a report aggregates these rows instead of
    sorting the store's sales. `next_at`: this customer's next counted sale in the same store (any
    salesperson), or None. `first_ever`: 1 when the customer had no sale (any store, any status)
    before this one. Written only by `services.sale_facts` (DELETE + INSERT ... SELECT)."""

    __tablename__ = "staff_kpi_sale_fact"
    __table_args__ = (
        Index("ix_staff_kpi_sale_fact_store_time", "store_id", "occurred_at"),
        Index("ix_staff_kpi_sale_fact_customer", "customer_id"),
    )

    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_ever: Mapped[int] = mapped_column(Integer, default=0)  # 0/1: max() works on both backends


class StoreState(db.Model):
    """One row per store: locked while its roll-up is rewritten, so two writers never both
    insert a day (each deletes and re-inserts a slice; without the lock both would keep theirs)."""

    __tablename__ = "staff_kpi_store_state"

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), primary_key=True)
    rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Target(db.Model):
    """A salesperson's target for one month in one store: an amount of net sales and, optionally,
    targets for any other metric by name (`{"repurchase_rate": "40", "feedback.avg_rating": "4.5"}`)."""

    __tablename__ = "staff_kpi_target"
    __table_args__ = (UniqueConstraint("store_id", "user_id", "month", name="uq_staff_kpi_target_store_user_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the store's calendar
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(120), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
