"""Scheduled inventory work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import Store
from core.plugins import HookContext


def review_alerts(store_id: int | None = None) -> int:
    """Daily: raise or clear safety-stock alerts as the rows stand now, for the case where a
    store's default safety stock changed since the last move (moves review their own rows).
    Products with nothing on the shelf and no open alert are left alone: one never stocked
    here raises nothing. Returns how many stock rows were looked at."""
    from plugins.inventory.hooks import staff_notifier
    from plugins.inventory.models import Stock
    from plugins.inventory.services.ledger import review_alerts as review

    reg = current_app.extensions["storecrm.plugins"]
    looked = 0
    query = select(Store).order_by(Store.id)
    if store_id is not None:  # the scheduler runs it per store, on the store's clock
        query = query.where(Store.id == store_id)
    for store in db.session.scalars(query):
        if not reg.is_enabled(store, "inventory"):
            continue
        ctx = HookContext(session=db.session, store=store, actor="review_alerts", registry=reg, plugin="inventory")
        rows = db.session.execute(select(Stock.product_id, Stock.quantity, Stock.safety_stock, Stock.alert_open)
                                  .where(Stock.store_id == store.id, (Stock.quantity > 0) | Stock.alert_open)).all()
        review(db.session, store.id, rows, default_safety=Decimal(ctx.settings()["default_safety_stock"]),
               notify=staff_notifier(ctx))
        looked += len(rows)
    db.session.commit()
    return looked
