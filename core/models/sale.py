from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import conv

from core.extensions import db
from core.models.customer import Customer
from core.models.product import Product
from core.models.store import Store
from core.models.types import MONEY, QUANTITY, UTCDateTime, utcnow
from core.models.user import User

SALE_STATUSES = ("completed", "partly_refunded", "refunded")
# How a sale may be paid (api.md): the closed set a till chooses from; `points` and `credit`
# are paid from a customer's balance by the modules that keep one.
PAYMENT_METHODS = ("cash", "wechat_pay", "alipay", "card", "unionpay", "stored_value", "points", "credit",
                   "voucher", "other")


class Sale(db.Model):
    """A purchase (消费记录). Totals are fixed when it is recorded; refunds are rows of their own."""

    __tablename__ = "sale"
    __table_args__ = (
        # Posting the same till id twice must yield one sale, even at the same instant.
        UniqueConstraint("store_id", "external_id", name="uq_sale_store_external_id"),
        Index("ix_sale_customer_time", "customer_id", "occurred_at"),
        Index("ix_sale_store_time", "store_id", "occurred_at"),
        # A bug anywhere that would refund more than the sale took fails loudly here instead.
        CheckConstraint("refunded_total >= 0 AND refunded_total <= total", name=conv("ck_sale_refunded_within_total")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(32), default="store")
    status: Mapped[str] = mapped_column(String(20), default="completed")
    subtotal: Mapped[Decimal] = mapped_column(MONEY)  # lines after their own discounts
    adjustment_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(MONEY)  # what the customer owes
    refunded_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moves on a refund: what `GET /sales?updated_since=` syncs from.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    # Field -> hash of what the till posted (core.services.request_fingerprint): a re-post of the
    # same external_id with a different body is refused, naming the fields that differ.
    request_fingerprint: Mapped[dict | None] = mapped_column(JSON)

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer | None] = relationship()
    staff: Mapped[User | None] = relationship()
    lines: Mapped[list["SaleLine"]] = relationship(
        back_populates="sale", cascade="all, delete-orphan", order_by="SaleLine.position"
    )
    adjustments: Mapped[list["SaleAdjustment"]] = relationship(cascade="all, delete-orphan")
    payments: Mapped[list["SalePayment"]] = relationship(cascade="all, delete-orphan")
    refunds: Mapped[list["Refund"]] = relationship(back_populates="sale", order_by="Refund.id")

    def paid_with(self, method: str) -> Decimal:
        return sum((p.amount for p in self.payments if p.method == method), Decimal("0.00"))

    @property
    def net_total(self) -> Decimal:
        return self.total - self.refunded_total


class SaleLine(db.Model):
    __tablename__ = "sale_line"
    __table_args__ = (
        # Refunds never give back more units, or more money, than the line sold and was paid.
        CheckConstraint("refunded_quantity >= 0 AND refunded_quantity <= quantity",
                        name=conv("ck_sale_line_refunded_within_quantity")),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount + allocated_adjustment",
                        name=conv("ck_sale_line_refunded_within_paid")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id", ondelete="SET NULL"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    amount: Mapped[Decimal] = mapped_column(MONEY)  # quantity * unit_price - discount
    # The line's share of sale-level adjustments, so a refund gives back what was really paid.
    allocated_adjustment: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    refunded_quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=Decimal("0"))
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))  # the money its refunds gave back
    full_price: Mapped[bool] = mapped_column(Boolean, default=True)
    # The product's cost when it was sold, for gross profit (staff_kpi, campaigns' ROI,
    # inventory's stock value); None when the catalogue had no cost.
    unit_cost: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)

    sale: Mapped[Sale] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()

    @property
    def net_amount(self) -> Decimal:
        """What the customer paid for this line after every discount."""
        return self.amount + self.allocated_adjustment


class SaleAdjustment(db.Model):
    """A price adjustment a plugin offered in `sale_quote` and the till applied."""

    __tablename__ = "sale_adjustment"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY)  # negative for a discount
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class SalePayment(db.Model):
    __tablename__ = "sale_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(32))  # cash, wechat_pay, alipay, card, points...
    amount: Mapped[Decimal] = mapped_column(MONEY)
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class Refund(db.Model):
    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sale: Mapped[Sale] = relationship(back_populates="refunds")
    lines: Mapped[list["RefundLine"]] = relationship(cascade="all, delete-orphan")


class RefundLine(db.Model):
    __tablename__ = "refund_line"
    __table_args__ = (CheckConstraint("quantity > 0 AND amount >= 0", name=conv("ck_refund_line_positive")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refund.id", ondelete="CASCADE"), index=True)
    sale_line_id: Mapped[int] = mapped_column(ForeignKey("sale_line.id", ondelete="CASCADE"))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    sale_line: Mapped[SaleLine] = relationship()


class Visit(db.Model):
    """A visit to a store (到店), with or without a purchase."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purpose: Mapped[str | None] = mapped_column(String(200))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    products_viewed: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    purchased: Mapped[bool] = mapped_column(Boolean, default=False)

    store: Mapped[Store] = relationship()
    customer: Mapped[Customer | None] = relationship()
    staff: Mapped[User | None] = relationship()
