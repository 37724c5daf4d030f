"""A built sale's rows written with Core multi-row INSERTs, not the ORM's unit of work.

The till's path and the offline batch build a `Sale` with its lines, adjustments and payments
as ORM objects (core/services/sales.py `build_sale`): plugins read them as such. Flushing them
through the unit of work costs ~250 µs of Python per statement and, on SQLite, one INSERT per
line. Here the sale is one INSERT (skipping a receipt already recorded: `ON CONFLICT DO
NOTHING` on the store's external_id) and each kind of child row one multi-row INSERT; then the
objects join the session as if loaded from it: same objects, ids set, nothing left to flush."""

from __future__ import annotations

from core.models import Sale, SaleAdjustment, SaleLine, SalePayment
from core.models.prepared import Prepared
from core.models.rows import fill_defaults, join_as_loaded
from core.models.types import insert_for

# Built once per database: the till writes with these on every sale (core/models/prepared.py).
SALE_INSERT = Prepared(lambda dialect: insert_for(dialect, Sale.__table__).returning(Sale.__table__.c.id))
SALE_INSERT_ONCE = Prepared(lambda dialect: insert_for(dialect, Sale.__table__)
                            .on_conflict_do_nothing(index_elements=["store_id", "external_id"])
                            .returning(Sale.__table__.c.id))
LINES_INSERT = Prepared(lambda dialect: insert_for(dialect, SaleLine.__table__)
                        .returning(SaleLine.__table__.c.id, SaleLine.__table__.c.position))
CHILDREN_INSERT = {model: Prepared(lambda dialect, table=model.__table__: insert_for(dialect, table)
                                   .returning(table.c.id, sort_by_parameter_order=True))
                   for model in (SaleAdjustment, SalePayment)}


def insert_sale(session, sale: Sale) -> bool:
    """Write `sale` and its child rows; False (nothing written) when its store already has a
    sale with its external_id: the caller answers with that one. The session is flushed first
    (a customer created for the sale gets its id)."""
    session.flush()
    sale.store_id = sale.store.id
    sale.customer_id = sale.customer.id if sale.customer is not None else None
    sale.staff_id = sale.staff.id if sale.staff is not None else None
    statement = SALE_INSERT_ONCE if sale.external_id else SALE_INSERT
    sale_id = statement.execute(session, fill_defaults(sale)).scalar()
    if sale_id is None:
        return False
    sale.id = sale_id
    for line in sale.lines:
        line.product_id = line.product.id if line.product is not None else None
    for model, children in ((SaleLine, sale.lines), (SaleAdjustment, sale.adjustments), (SalePayment, sale.payments)):
        insert_children(session, model, children, sale_id)
    join_as_loaded(session, sale, *sale.lines, *sale.adjustments, *sale.payments)  # the children by cascade
    return True


def insert_children(session, model, children: list, sale_id: int) -> None:
    """One multi-row INSERT of a sale's child rows, their ids set. Lines are matched to their
    ids by position (SQLite's RETURNING has no order, and asking SQLAlchemy to sort it makes one
    INSERT per row there); adjustments and payments, rare, are sorted by SQLAlchemy."""
    if not children:
        return
    for child in children:
        child.sale_id = sale_id
    rows = [fill_defaults(child) for child in children]
    if model is SaleLine:
        by_position = {child.position: child for child in children}
        for child_id, position in LINES_INSERT.execute(session, rows):
            by_position[position].id = child_id
        return
    ids = CHILDREN_INSERT[model].execute(session, rows).scalars().all()
    for child, child_id in zip(children, ids, strict=True):
        child.id = child_id
