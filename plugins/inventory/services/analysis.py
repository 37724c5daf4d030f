"""Stock analysis from the ledger, in one set-based SELECT per store: turnover and days of
cover per product, best and slowest sellers, dead stock and stock value at cost."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import case, func, select

from core.models import Product, utcnow
from plugins.inventory.models import Move, Stock

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def product_figures(session, store_id: int, days: int, now=None) -> list[dict]:
    """Per product with stock in the store, over the last `days`:
    sold = units sold less units refunded; level at the start = level now − every move since;
    average level = (start + now) ÷ 2; turnover = sold ÷ average level; days of cover = level ÷
    (sold ÷ days); value = level × unit cost (average cost of receipts, else the catalogue's)."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    in_period = (select(Move.product_id.label("product_id"),
                        func.sum(case((Move.kind.in_(("sale", "refund")), -Move.quantity), else_=0)).label("sold"),
                        func.sum(Move.quantity).label("moved"))
                 .where(Move.store_id == store_id, Move.occurred_at >= since)
                 .group_by(Move.product_id).subquery())
    last_sale = (select(Move.product_id.label("product_id"), func.max(Move.occurred_at).label("last_sale_at"))
                 .where(Move.store_id == store_id, Move.kind == "sale")
                 .group_by(Move.product_id).subquery())
    stmt = (select(Product.id, Product.sku, Product.name, Product.category, Stock.quantity,
                   func.coalesce(in_period.c.sold, 0), func.coalesce(in_period.c.moved, 0), last_sale.c.last_sale_at,
                   func.coalesce(Stock.average_cost, Product.cost))
            .select_from(Stock).join(Product, Product.id == Stock.product_id)
            .outerjoin(in_period, in_period.c.product_id == Stock.product_id)
            .outerjoin(last_sale, last_sale.c.product_id == Stock.product_id)
            .where(Stock.store_id == store_id)
            .order_by(Product.sku))
    out = []
    for pid, sku, name, category, level, sold, moved, last_at, cost in session.execute(stmt):
        level, sold, moved = Decimal(level), Decimal(sold), Decimal(moved)
        average = (level - moved + level) / 2
        daily = sold / days
        out.append({
            "product_id": pid, "sku": sku, "name": name, "category": category, "level": level, "sold": sold,
            "average_level": average.quantize(TENTH),
            "turnover": (sold / average).quantize(CENT) if average > 0 else None,
            "days_of_cover": (level / daily).quantize(TENTH) if daily > 0 and level > 0 else (
                Decimal("0") if daily > 0 else None),
            "value": (level * Decimal(cost)).quantize(CENT) if cost is not None and level > 0 else Decimal("0.00"),
            "last_sale_at": last_at,
        })
    return out


def analysis(session, store_id: int, *, days: int = 30, limit: int = 10, dead_stock_days: int = 90, now=None) -> dict:
    """Best sellers: most units sold. Slowest: products with stock that sold least relative to
    it (lowest sold ÷ level), never one of the best. Dead stock: on the shelf, no sale in
    `dead_stock_days` (or never)."""
    now = now or utcnow()
    products = product_figures(session, store_id, days, now)
    best = sorted((p for p in products if p["sold"] > 0), key=lambda p: (-p["sold"], p["sku"]))[:limit]
    best_ids = {p["product_id"] for p in best}
    slowest = sorted((p for p in products if p["level"] > 0 and p["product_id"] not in best_ids),
                     key=lambda p: (p["sold"] / p["level"], -p["level"], p["sku"]))[:limit]
    cutoff = now - timedelta(days=dead_stock_days)
    dead = sorted((p for p in products if p["level"] > 0 and (p["last_sale_at"] is None or p["last_sale_at"] < cutoff)),
                  key=lambda p: (-p["value"], p["sku"]))
    return {"days": days, "stock_value": sum((p["value"] for p in products), Decimal("0.00")), "products": products,
            "best": best, "slowest": slowest, "dead": dead, "dead_stock_days": dead_stock_days}
