"""Stocktakes (盘点): open a count, scanners post barcodes, variances against the level at the
moment each item was first counted, posted as adjustments (moves of kind `stocktake`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core.errors import Conflict, NotFound, Unprocessable
from core.models import Product, utcnow
from plugins.inventory.labels import STOCKTAKE_STATUS_LABELS, label
from plugins.inventory.models import Stock, Stocktake, StocktakeLine
from plugins.inventory.services.ledger import apply_moves, upsert
from plugins.inventory.services.stock import find_product


def open_stocktake(session, store, *, category: str | None = None, note: str | None = None,
                   actor: str = "system") -> Stocktake:
    """One open count per store at a time: two counts of the same shelf would both adjust it."""
    running = session.scalars(select(Stocktake).where(Stocktake.store_id == store.id, Stocktake.status == "open")
                              .with_for_update()).first()
    if running is not None:
        raise Conflict(f"stocktake {running.id} is still open in this store",
                       fields={"stocktake": [f"Post or cancel stocktake {running.id} first."]},
                       details={"open_stocktake_id": running.id})
    take = Stocktake(store_id=store.id, category=category, note=note, opened_by=actor, status="open")
    session.add(take)
    session.flush()
    return take


def stocktake_in(session, store, stocktake_id: int, *, lock: bool = False) -> Stocktake:
    """The stocktake of `store`; another store's is not found (404)."""
    stmt = select(Stocktake).where(Stocktake.id == stocktake_id)
    take = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if take is None or take.store_id != store.id:
        raise NotFound(f"no stocktake {stocktake_id}")
    return take


def _require_open(take: Stocktake) -> None:
    if take.status != "open":
        raise Unprocessable(f"stocktake {take.id} is {take.status}",
                            fields={"status": [f"The count is {label(STOCKTAKE_STATUS_LABELS, take.status)}; "
                                               "only an open count takes scans."]}, details={"status": take.status})


def count(session, store, take: Stocktake, barcode: str, quantity: Decimal, *, replace: bool = False) -> StocktakeLine:
    """Add `quantity` to what was counted of the item (or set it, `replace`). The first scan of an
    item records the level at that moment as what is expected, in the same statement, so two
    scanners counting the same item at once add up and agree on the expectation."""
    _require_open(take)
    product = find_product(session, barcode=barcode)
    if take.category and product.category != take.category:
        raise Unprocessable(f"{product.sku} is not in this count's category",
                            fields={"barcode": [f"{product.sku} is {product.category or '—'}; this count is "
                                                f"{take.category} only."]})
    now = utcnow()
    level_now = func.coalesce(select(Stock.quantity).where(Stock.store_id == store.id, Stock.product_id == product.id)
                              .scalar_subquery(), 0)
    table = StocktakeLine.__table__
    stmt = upsert(session, table).values(stocktake_id=take.id, product_id=product.id, counted=Decimal(quantity),
                                         expected=level_now, first_counted_at=now, last_counted_at=now)
    counted = stmt.excluded.counted if replace else table.c.counted + stmt.excluded.counted
    stmt = stmt.on_conflict_do_update(index_elements=["stocktake_id", "product_id"],
                                      set_={"counted": counted, "last_counted_at": now})
    session.execute(stmt)
    session.flush()
    line = session.get(StocktakeLine, (take.id, product.id), populate_existing=True)
    return line


def _unit_costs(session, store_id: int, product_ids) -> dict[int, Decimal | None]:
    if not product_ids:
        return {}
    rows = session.execute(select(Product.id, func.coalesce(Stock.average_cost, Product.cost))
                           .select_from(Product)
                           .outerjoin(Stock, (Stock.product_id == Product.id) & (Stock.store_id == store_id))
                           .where(Product.id.in_(product_ids)))
    return dict(rows.all())


def view(session, take: Stocktake) -> dict:
    """The count with each line's variance and value, and what in scope nobody counted."""
    lines = list(session.scalars(select(StocktakeLine).where(StocktakeLine.stocktake_id == take.id)
                                 .options(selectinload(StocktakeLine.product)).order_by(StocktakeLine.product_id)))
    costs = _unit_costs(session, take.store_id, [line.product_id for line in lines])
    out = []
    for line in lines:
        cost = costs.get(line.product_id)
        variance = line.counted - line.expected
        out.append({"product_id": line.product_id, "sku": line.product.sku, "name": line.product.name,
                    "barcode": line.product.barcode, "counted": line.counted, "expected": line.expected,
                    "variance": variance, "unit_cost": cost,
                    "variance_value": (variance * cost).quantize(Decimal("0.01")) if cost is not None else Decimal("0.00"),
                    "first_counted_at": line.first_counted_at})
    counted_ids = select(StocktakeLine.product_id).where(StocktakeLine.stocktake_id == take.id)
    scope = (select(Product.sku, Product.name, Stock.quantity).join(Stock, Stock.product_id == Product.id)
             .where(Stock.store_id == take.store_id, Stock.quantity != 0, Product.id.not_in(counted_ids)))
    if take.category:
        scope = scope.where(Product.category == take.category)
    uncounted = [] if take.status != "open" else [
        {"sku": sku, "name": name, "level": level} for sku, name, level in session.execute(scope.order_by(Product.sku))]
    return {"id": take.id, "store": take.store.code, "category": take.category, "status": take.status,
            "status_label": label(STOCKTAKE_STATUS_LABELS, take.status), "opened_at": take.opened_at,
            "opened_by": take.opened_by, "posted_at": take.posted_at, "lines": out, "uncounted": uncounted,
            "variance_value": sum((line["variance_value"] for line in out), Decimal("0.00"))}


def post(session, store, take: Stocktake, *, default_safety: Decimal, user=None, actor: str = "system",
         notify=None) -> Stocktake:
    """Book each counted item's variance as a `stocktake` move (once: posting twice is a 422).
    Items nobody counted are left as they are."""
    _require_open(take)
    lines = list(session.scalars(select(StocktakeLine).where(StocktakeLine.stocktake_id == take.id)))
    costs = _unit_costs(session, store.id, [line.product_id for line in lines])
    moves = [{"product_id": line.product_id, "kind": "stocktake", "quantity": line.counted - line.expected,
              "unit_cost": costs.get(line.product_id), "stocktake_id": take.id,
              "source_key": f"stocktake:{take.id}:{line.product_id}", "reason": f"Stocktake #{take.id}",
              "actor": actor, "actor_user_id": getattr(user, "id", None)}
             for line in sorted(lines, key=lambda x: x.product_id) if line.counted != line.expected]
    apply_moves(session, store.id, moves, default_safety=default_safety, notify=notify)
    take.status = "posted"
    take.posted_at = utcnow()
    session.flush()
    return take


def cancel(session, take: Stocktake) -> Stocktake:
    _require_open(take)
    take.status = "cancelled"
    session.flush()
    return take
