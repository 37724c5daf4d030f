"""Reading stock: the levels with what explains them (in transit, on order, safety stock), the
moves with their running balance, and per-product settings (safety stock, max level, lead time)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import case, func, select

from core.errors import InvalidInput
from core.models import Product
from plugins.inventory.models import Move, PurchaseOrder, PurchaseOrderLine, Stock, Supplier
from plugins.inventory.services.ledger import ZERO, recheck_alerts

OPEN_ORDER_STATUSES = ("sent", "partly_received")


def find_product(session, *, sku: str | None = None, barcode: str | None = None) -> Product:
    """A product by barcode (a scanner) or SKU; a barcode that is no product's is tried as a SKU."""
    product = None
    if barcode:
        product = session.scalars(select(Product).where(Product.barcode == barcode)).first()
        if product is None:
            product = session.scalars(select(Product).where(Product.sku == barcode)).first()
        if product is None:
            raise InvalidInput(f"no product has barcode {barcode}", fields={"barcode": [f"Unknown barcode {barcode}."]})
        return product
    product = session.scalars(select(Product).where(Product.sku == sku)).first() if sku else None
    if product is None:
        raise InvalidInput(f"unknown product {sku}", fields={"sku": [f"Unknown product {sku}."]})
    return product


def on_order_subquery(store_id: int):
    """Per product: ordered from suppliers and not yet received (orders sent or partly received)."""
    return (select(PurchaseOrderLine.product_id.label("product_id"),
                   func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity).label("on_order"))
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .where(PurchaseOrder.store_id == store_id, PurchaseOrder.status.in_(OPEN_ORDER_STATUSES))
            .group_by(PurchaseOrderLine.product_id).subquery())


def stock_select(store_id: int, default_safety: Decimal):
    """Products with a stock row in the store, with level, on order and the effective safety
    stock, as one SELECT (filters and keyset pagination are added by the caller)."""
    on_order = on_order_subquery(store_id)
    safety = func.coalesce(Stock.safety_stock, default_safety)
    unit_cost = func.coalesce(Stock.average_cost, Product.cost)
    return (select(Product, Stock, func.coalesce(on_order.c.on_order, 0).label("on_order"), safety.label("safety"),
                   unit_cost.label("unit_cost"))
            .select_from(Stock).join(Product, Product.id == Stock.product_id)
            .outerjoin(on_order, on_order.c.product_id == Stock.product_id)
            .where(Stock.store_id == store_id)), safety


def stock_row(product, stock, on_order, safety, unit_cost) -> dict:
    level = Decimal(stock.quantity)
    value = (level * Decimal(unit_cost)).quantize(Decimal("0.01")) if unit_cost is not None and level > 0 else Decimal("0.00")
    return {"product_id": product.id, "sku": product.sku, "name": product.name, "category": product.category,
            "barcode": product.barcode, "level": level, "in_transit": Decimal(stock.in_transit),
            "on_order": Decimal(on_order or 0), "safety_stock": Decimal(safety),
            "safety_stock_is_default": stock.safety_stock is None, "max_level": stock.max_level,
            "lead_time_days": stock.lead_time_days, "supplier_id": stock.supplier_id, "below_safety": level < Decimal(safety),
            "unit_cost": unit_cost, "value": value, "alert_open": stock.alert_open}


def list_stock(session, store_id: int, default_safety: Decimal, *, sku=None, category=None, below_safety=None,
               after_product_id: int | None = None, limit: int = 50) -> tuple[list[dict], int | None]:
    """One page of the store's stock by product id. Returns (rows, last product id if more)."""
    stmt, safety = stock_select(store_id, default_safety)
    if sku:
        stmt = stmt.where(Product.sku == sku)
    if category:
        stmt = stmt.where(Product.category == category)
    if below_safety is True:
        stmt = stmt.where(Stock.quantity < safety)
    elif below_safety is False:
        stmt = stmt.where(Stock.quantity >= safety)
    if after_product_id is not None:
        stmt = stmt.where(Stock.product_id > after_product_id)
    rows = session.execute(stmt.order_by(Stock.product_id).limit(limit + 1)).all()
    items = [stock_row(*row) for row in rows[:limit]]
    return items, (items[-1]["product_id"] if len(rows) > limit else None)


def set_stock_settings(session, store_id: int, product: Product, values: dict, *, default_safety: Decimal,
                       notify=None) -> None:
    """Safety stock (None: the store's default), max level, lead time, usual supplier."""
    if values.get("supplier_id") is not None and session.get(Supplier, values["supplier_id"]) is None:
        raise InvalidInput("unknown supplier", fields={"supplier_id": [f"No supplier {values['supplier_id']}."]})
    stock = session.get(Stock, (store_id, product.id), with_for_update=True)
    if stock is None:
        stock = Stock(store_id=store_id, product_id=product.id, quantity=ZERO, in_transit=ZERO, alert_open=False)
        session.add(stock)
    for key in ("safety_stock", "max_level", "lead_time_days", "supplier_id"):
        if key in values:
            setattr(stock, key, values[key])
    if stock.max_level is not None and stock.safety_stock is not None and stock.max_level < stock.safety_stock:
        raise InvalidInput("the max level is below the safety stock",
                           fields={"max_level": ["Order up to at least the safety stock."]})
    session.flush()
    recheck_alerts(session, store_id, [product.id], default_safety=default_safety, notify=notify)


def moves_page(session, store_id: int, *, product_id=None, kind=None, after_id=None, limit=50):
    """Moves of the store, oldest first, each with the level after it (the sum of the moves of
    that product up to and including it)."""
    later = Move.__table__.alias("earlier")
    balance = (select(func.sum(later.c.quantity))
               .where(later.c.store_id == Move.store_id, later.c.product_id == Move.product_id, later.c.id <= Move.id)
               .scalar_subquery())
    stmt = (select(Move, Product.sku, balance.label("balance_after")).join(Product, Product.id == Move.product_id)
            .where(Move.store_id == store_id))
    if product_id is not None:
        stmt = stmt.where(Move.product_id == product_id)
    if kind:
        stmt = stmt.where(Move.kind == kind)
    if after_id is not None:
        stmt = stmt.where(Move.id > after_id)
    rows = session.execute(stmt.order_by(Move.id).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1][0].id if len(rows) > limit else None)


def below_safety_count(session, store_ids, default_safety_by_store: dict[int, Decimal]) -> int:
    """Products under their safety stock across `store_ids` (the dashboard's tile)."""
    if not store_ids:
        return 0
    default = case(*[(Stock.store_id == sid, value) for sid, value in default_safety_by_store.items()],
                   else_=Decimal("0"))
    return int(session.scalar(select(func.count()).select_from(Stock).where(
        Stock.store_id.in_(store_ids), Stock.quantity < func.coalesce(Stock.safety_stock, default))) or 0)


def stock_value(session, store_ids) -> Decimal:
    """What the positive stock of `store_ids` cost (average cost, else the catalogue's cost)."""
    if not store_ids:
        return Decimal("0.00")
    value = session.scalar(select(func.coalesce(func.sum(Stock.quantity * func.coalesce(Stock.average_cost, Product.cost, 0)), 0))
                           .join(Product, Product.id == Stock.product_id)
                           .where(Stock.store_id.in_(store_ids), Stock.quantity > 0))
    return Decimal(value or 0).quantize(Decimal("0.01"))


def stock_card(session, product_id: int, store_ids) -> list[dict]:
    """One product in each of `store_ids`: level, in transit and safety stock (the product panel)."""
    return [{"store_id": s.store_id, "level": Decimal(s.quantity), "in_transit": Decimal(s.in_transit),
             "safety_stock": s.safety_stock, "max_level": s.max_level, "lead_time_days": s.lead_time_days,
             "supplier_id": s.supplier_id, "alert_open": s.alert_open}
            for s in session.scalars(select(Stock).where(Stock.product_id == product_id, Stock.store_id.in_(store_ids))
                                     .order_by(Stock.store_id))]

