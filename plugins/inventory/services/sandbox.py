"""Inventory's part of a sandbox store's reset (hook `sandbox_reset`): the store's stock
history goes and its shelves are empty again; each product's safety stock, order-up-to
level, lead time and supplier (settings) stay. Transfers with another store stay: they are
that store's records too."""

from __future__ import annotations

from sqlalchemy import delete, update

from core.services.sandbox import delete_rows
from plugins.inventory.models import ZERO, Alert, Move, PurchaseOrder, Stock, Stocktake


def reset(session, store, customer_ids) -> dict[str, int]:
    counts = delete_rows(session, [
        ("inventory_alert", delete(Alert).where(Alert.store_id == store.id)),
        ("inventory_move", delete(Move).where(Move.store_id == store.id)),
        ("inventory_stocktake", delete(Stocktake).where(Stocktake.store_id == store.id)),
        ("inventory_purchase_order", delete(PurchaseOrder).where(PurchaseOrder.store_id == store.id)),
    ])
    session.execute(update(Stock).where(Stock.store_id == store.id)
                    .values(quantity=ZERO, in_transit=ZERO, average_cost=None, alert_open=False),
                    execution_options={"synchronize_session": False})
    return counts
