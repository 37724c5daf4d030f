"""Per-sale facts (`staff_kpi_sale_fact`) behind the customer figures.

For each counted sale (a named customer, not refunded in full): the customer's next counted sale
in the same store and whether it was the customer's first sale anywhere. Both depend on other
sales of the same customer, so the unit of rewriting is a customer in a store: every writer
deletes that customer's rows and re-inserts them with one INSERT ... SELECT (a window function
over the customer's sales), which is idempotent. Callers hold the store's roll-up lock
(`rollup.lock_store`).

- after a sale or a refund: the sale's customer in the sale's store;
- nightly: every customer with a sale or refund written (any store) in the last days, which also
  mends a first-purchase flag moved by a back-dated sale in another store;
- switch-on and `storecrm staff_kpi rebuild`: the whole store;
- a merge: both profiles, as one; an erasure: the person's rows go (the core unlinks their sales)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, func, insert, literal, select, union

from core.models import Refund, Sale, Store
from plugins.staff_kpi.models import SaleFact, StoreState

COLUMNS = ["sale_id", "store_id", "staff_id", "customer_id", "occurred_at", "next_at", "first_ever"]


def facts_select(store_id: int, customers=None, merged_into: tuple[int, int] | None = None):
    """The fact rows of `store_id` recomputed from the sales: all customers, or those whose id is
    in `customers` (a list or a SELECT). `merged_into=(merged, kept)`: count the sales of
    `merged` as `kept`'s (a merge, before the core moves the sales)."""
    who = Sale.customer_id
    if merged_into is not None:
        who = case((Sale.customer_id == merged_into[0], literal(merged_into[1])), else_=Sale.customer_id)
    mine = [Sale.customer_id.in_(customers)] if customers is not None else [Sale.customer_id.is_not(None)]
    counted = (select(Sale.id.label("sale_id"), Sale.staff_id.label("staff_id"), who.label("customer_id"),
                      Sale.occurred_at.label("occurred_at"),
                      func.lead(Sale.occurred_at).over(partition_by=who, order_by=(Sale.occurred_at, Sale.id))
                      .label("next_at"))
               .where(Sale.store_id == store_id, Sale.status != "refunded", *mine).subquery())
    ever_scope = [Sale.customer_id.in_(customers)] if customers is not None else \
        [Sale.customer_id.in_(select(Sale.customer_id).where(Sale.store_id == store_id).distinct())]
    ever = (select(who.label("customer_id"), func.min(Sale.occurred_at).label("first_at"))
            .where(*ever_scope).group_by(who).subquery())
    return (select(counted.c.sale_id, literal(store_id), counted.c.staff_id, counted.c.customer_id,
                   counted.c.occurred_at, counted.c.next_at,
                   case((ever.c.first_at < counted.c.occurred_at, 0), else_=1))
            .join(ever, ever.c.customer_id == counted.c.customer_id))


def rewrite(session, store_id: int, customers=None, merged_into: tuple[int, int] | None = None) -> None:
    """Delete and re-insert the facts of `store_id` (all of them, or `customers`' only)."""
    where = [SaleFact.store_id == store_id]
    if customers is not None:
        where.append(SaleFact.customer_id.in_(customers))
    session.execute(delete(SaleFact).where(*where).execution_options(synchronize_session=False))
    session.execute(insert(SaleFact).from_select(COLUMNS, facts_select(store_id, customers, merged_into)))


def refresh_recent(session, store: Store, since: datetime) -> None:
    """The customers with a sale or a refund written since `since`, in any store."""
    touched = union(select(Sale.customer_id).where(Sale.created_at >= since, Sale.customer_id.is_not(None)),
                    select(Sale.customer_id).join(Refund, Refund.sale_id == Sale.id)
                    .where(Refund.created_at >= since, Sale.customer_id.is_not(None)))
    rewrite(session, store.id, select(touched.subquery().c.customer_id))


def erase(session, customer_id: int) -> None:
    session.execute(delete(SaleFact).where(SaleFact.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> None:
    """Rewrite both profiles' facts as one in every store keeping facts (called before the core
    moves the sales, so the merged profile's sales are counted as the kept one's)."""
    from plugins.staff_kpi.services.rollup import lock_store

    store_ids = sorted(session.scalars(select(StoreState.store_id)))
    for store_id in store_ids:
        lock_store(session, store_id)
        rewrite(session, store_id, [kept_id, merged_id], merged_into=(merged_id, kept_id))


def export(session, customer_id: int) -> list[dict]:
    rows = session.execute(select(SaleFact).where(SaleFact.customer_id == customer_id).order_by(SaleFact.occurred_at))
    return [{"sale_id": f.sale_id, "store_id": f.store_id, "occurred_at": f.occurred_at.isoformat(),
             "next_sale_at": f.next_at.isoformat() if f.next_at else None, "first_purchase": bool(f.first_ever)}
            for (f,) in rows]
