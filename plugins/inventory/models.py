"""Inventory tables (all prefixed `inventory_`): the stock ledger and its running totals,
safety-stock alerts, suppliers and purchase orders, stocktakes and transfers between stores."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import MONEY, QUANTITY, UTCDateTime, utcnow

MOVE_KINDS = ("sale", "refund", "receipt", "adjustment", "transfer_out", "transfer_in", "stocktake")
ORDER_STATUSES = ("draft", "sent", "partly_received", "received", "cancelled")
STOCKTAKE_STATUSES = ("open", "posted", "cancelled")
TRANSFER_STATUSES = ("in_transit", "received", "cancelled")
ZERO = Decimal("0")


class Stock(db.Model):
    """A product's stock in one store. `quantity` is the running total of the moves, changed
    only by `UPDATE … SET quantity = quantity + :n` next to the move that explains it."""

    __tablename__ = "inventory_stock"

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=ZERO)
    # Sent by another store and not yet received here (transfers).
    in_transit: Mapped[Decimal] = mapped_column(QUANTITY, default=ZERO)
    # None: the store's default (settings). The reorder point of min/max.
    safety_stock: Mapped[Decimal | None] = mapped_column(QUANTITY)
    max_level: Mapped[Decimal | None] = mapped_column(QUANTITY)  # order up to this (min/max)
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_supplier.id", ondelete="SET NULL"))
    # Weighted average cost of what is on the shelf, moved by receipts; None: the product's cost.
    average_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    # An alert is open for this row (below safety stock): the next sale does not raise another.
    alert_open: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product = relationship("Product")
    store = relationship("Store")
    supplier = relationship("Supplier")


class Move(db.Model):
    """One change of stock: the level is the sum of `quantity` (signed) per store and product."""

    __tablename__ = "inventory_move"
    __table_args__ = (
        Index("ix_inventory_move_stock", "store_id", "product_id", "id"),
        Index("ix_inventory_move_kind_time", "store_id", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # What made it, once: "sale:12:3" (sale 12, product 3). A redelivered event adds nothing.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id", ondelete="SET NULL"))
    purchase_order_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_purchase_order.id", ondelete="SET NULL"),
                                                          index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_transfer.id", ondelete="SET NULL"))
    stocktake_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_stocktake.id", ondelete="SET NULL"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product")
    store = relationship("Store")


class Alert(db.Model):
    """A product fell below its safety stock in a store. `open_key` is set while the alert is
    open and unique, so two sales crossing the line at once raise one alert."""

    __tablename__ = "inventory_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    level: Mapped[Decimal] = mapped_column(QUANTITY)
    safety_stock: Mapped[Decimal] = mapped_column(QUANTITY)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)  # a channel (campaigns) took the message

    product = relationship("Product")
    store = relationship("Store")


class Supplier(db.Model):
    """A supplier (供应商), shared by the chain's stores."""

    __tablename__ = "inventory_supplier"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name


class PurchaseOrder(db.Model):
    """draft → sent → partly_received → received, or cancelled before anything arrived."""

    __tablename__ = "inventory_purchase_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("inventory_supplier.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_to: Mapped[str | None] = mapped_column(String(200))
    email_error: Mapped[str | None] = mapped_column(String(500))

    supplier: Mapped[Supplier] = relationship()
    store = relationship("Store")
    lines: Mapped[list["PurchaseOrderLine"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                            order_by="PurchaseOrderLine.id")

    @property
    def total_cost(self) -> Decimal:
        return sum((line.quantity * line.unit_cost for line in self.lines), Decimal("0.00"))


class PurchaseOrderLine(db.Model):
    __tablename__ = "inventory_purchase_order_line"
    __table_args__ = (UniqueConstraint("order_id", "product_id", name="uq_inventory_po_line_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("inventory_purchase_order.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_cost: Mapped[Decimal] = mapped_column(MONEY)
    received_quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=ZERO)

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    product = relationship("Product")


class Stocktake(db.Model):
    """A count (盘点) of a store, or of one category of it."""

    __tablename__ = "inventory_stocktake"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    category: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(100), default="system")
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")
    lines: Mapped[list["StocktakeLine"]] = relationship(cascade="all, delete-orphan", order_by="StocktakeLine.product_id")


class StocktakeLine(db.Model):
    """What was counted of one product; `expected` is the level when it was first counted, so
    sales during the count change the level and the expectation alike, never the variance."""

    __tablename__ = "inventory_stocktake_line"

    stocktake_id: Mapped[int] = mapped_column(ForeignKey("inventory_stocktake.id", ondelete="CASCADE"),
                                              primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    counted: Mapped[Decimal] = mapped_column(QUANTITY, default=ZERO)
    expected: Mapped[Decimal] = mapped_column(QUANTITY, default=ZERO)
    first_counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product")

    @property
    def variance(self) -> Decimal:
        return self.counted - self.expected


class Transfer(db.Model):
    """Stock sent from one store to another: out of the sender at once, in transit until the
    receiving store books it in."""

    __tablename__ = "inventory_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    to_store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in_transit")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    from_store = relationship("Store", foreign_keys=[from_store_id])
    to_store = relationship("Store", foreign_keys=[to_store_id])
    lines: Mapped[list["TransferLine"]] = relationship(cascade="all, delete-orphan", order_by="TransferLine.product_id")


class TransferLine(db.Model):
    __tablename__ = "inventory_transfer_line"

    transfer_id: Mapped[int] = mapped_column(ForeignKey("inventory_transfer.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)

    product = relationship("Product")
