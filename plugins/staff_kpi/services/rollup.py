"""The daily roll-up (`staff_kpi_daily`): sums per store, salesperson, local day and kind.

A slice (a store, some local days, one salesperson or all) is always rewritten whole — delete,
then INSERT ... SELECT from the ledger — so rewriting it twice, or late, gives the same rows:
the after-commit reaction to a sale or refund, the nightly job and `flask staff_kpi rebuild`
all call `rebuild`. Writers of one store take its `staff_kpi_store_state` row lock first."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, func, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError

from core.models import Sale, Store, utcnow
from plugins.staff_kpi.models import KINDS, DailyFigure, StoreState
from plugins.staff_kpi.services import ledger, sale_facts
from plugins.staff_kpi.services.periods import local_day, local_day_sql, offset_stretches, period_for

COLUMNS = ["store_id", "staff_id", "day", "kind", *ledger.MEASURES]


def lock_store(session, store_id: int) -> None:
    """Hold the store's roll-up lock until the transaction ends: one UPDATE of its state row
    (which takes the row lock on PostgreSQL; SQLite serialises writers anyway)."""
    touched = session.execute(StoreState.__table__.update().where(StoreState.store_id == store_id)
                              .values(rebuilt_at=utcnow())).rowcount
    if touched:
        return
    try:
        with session.begin_nested():
            session.add(StoreState(store_id=store_id, rebuilt_at=utcnow()))
    except IntegrityError:  # another writer created it first: wait for its lock
        session.execute(StoreState.__table__.update().where(StoreState.store_id == store_id).values(rebuilt_at=utcnow()))


def rebuild(session, store: Store, first_day: date, last_day: date, staff=ledger.ALL, kinds=KINDS) -> None:
    """Rewrite the roll-up of `store` for local days first_day..last_day (and one salesperson,
    or None for sales without one, unless ALL; and only `kinds`): one DELETE, one INSERT ... SELECT."""
    lock_store(session, store.id)
    where = [DailyFigure.store_id == store.id, DailyFigure.day >= first_day, DailyFigure.day <= last_day]
    staff_clause = ledger.staff_filter(DailyFigure.staff_id, staff)
    if staff_clause is not None:
        where.append(staff_clause)
    if set(kinds) != set(KINDS):
        where.append(DailyFigure.kind.in_(kinds))
    session.execute(delete(DailyFigure).where(*where).execution_options(synchronize_session=False))
    period = period_for(store.tz, first_day, last_day)
    dialect = session.get_bind().dialect.name
    parts = []
    for start, end, minutes in offset_stretches(store.tz, period.start, period.end):
        def day(column, minutes=minutes):
            return local_day_sql(column, minutes, dialect)

        queries = {
            "sale": lambda: ledger.sales_select(store.id, start, end, staff, day),
            "refund_at_refund": lambda: ledger.refunds_select(store.id, start, end, at="refund", staff=staff, day=day),
            "refund_at_sale": lambda: ledger.refunds_select(store.id, start, end, at="sale", staff=staff, day=day),
        }
        for kind in kinds:
            sub = queries[kind]().subquery()
            parts.append(select(literal(store.id), sub.c.staff_id, sub.c.day, literal(kind),
                                *[func.sum(sub.c[m]) for m in ledger.MEASURES])
                         .group_by(sub.c.staff_id, sub.c.day))
    rows = parts[0] if len(parts) == 1 else union_all(*parts)
    session.execute(insert(DailyFigure).from_select(COLUMNS, rows))


def touched_by_sale(sale: Sale) -> list[tuple]:
    """What a new sale changes: its salesperson's day of sales, and its customer's facts."""
    return [("sale", local_day(sale.occurred_at, sale.store.tz), sale.staff_id, sale.customer_id)]


def touched_by_refund(sale: Sale, refund) -> list[tuple]:
    """What a refund changes: the original salesperson's day of the refund and day of the sale,
    and the customer's facts (refunded in full, the sale is no longer counted)."""
    tz = sale.store.tz
    return [("refund_at_refund", local_day(refund.created_at, tz), sale.staff_id, sale.customer_id),
            ("refund_at_sale", local_day(sale.occurred_at, tz), sale.staff_id, sale.customer_id)]


def refresh(session, store_id: int, touched: list[tuple]) -> None:
    """Rewrite what `touched` (items of `touched_by_sale` / `touched_by_refund`, any number of
    sales of one store) changed: each (kind, day) slice once — one salesperson's, or every
    salesperson's when several share it — and the facts of all their customers in one statement.
    The after-commit reactions hand a whole delivery batch here (`ctx.once_per_batch`)."""
    store = session.get(Store, store_id)
    slices: dict[tuple, set] = {}
    customers = set()
    for kind, day, staff_id, customer_id in touched:
        slices.setdefault((kind, day), set()).add(staff_id)
        if customer_id is not None:
            customers.add(customer_id)
    for (kind, day), staff in sorted(slices.items(), key=lambda item: (item[0][0], item[0][1])):
        rebuild(session, store, day, day, next(iter(staff)) if len(staff) == 1 else ledger.ALL, kinds=(kind,))
    if customers:
        sale_facts.rewrite(session, store.id, sorted(customers))


def rebuild_history(session, store: Store, today: date | None = None) -> tuple[date, date] | None:
    """Rewrite the store's whole roll-up and sale facts, from its first sale to today (when the plugin is
    switched on, and `flask staff_kpi rebuild`). Returns the days covered, or None."""
    first = session.scalar(select(func.min(Sale.occurred_at)).where(Sale.store_id == store.id))
    if first is None:
        return None
    first_day = local_day(first, store.tz)
    last_day = max(today or local_day(utcnow(), store.tz), first_day)
    rebuild(session, store, first_day, last_day)
    sale_facts.rewrite(session, store.id)
    return first_day, last_day


def rebuild_recent(session, store: Store, days: int = 3) -> tuple[date, date]:
    """The nightly job's slice: the last `days` local days, so anything a reaction missed
    (a delivery that failed, a sale imported while the plugin was off) is mended by morning; and
    the sale facts of every customer with a sale or refund written in those days."""
    today = local_day(utcnow(), store.tz)
    first_day = today - timedelta(days=days - 1)
    rebuild(session, store, first_day, today)
    sale_facts.refresh_recent(session, store, utcnow() - timedelta(days=days))
    return first_day, today
