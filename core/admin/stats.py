"""The figures the dashboard shows: set-based queries over sales, visits and customers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, select

from core.admin.timeline import customer_scope
from core.live_stores import figure_scope, live_customer
from core.models import Customer, EventDelivery, Event, Product, Sale, SaleLine, Visit

ZERO = Decimal("0.00")


def period_bounds(days: int, tz: ZoneInfo, today: date | None = None) -> tuple[date, date, datetime, datetime]:
    """The last `days` local days including today, as dates and as UTC instants [start, end)."""
    today = today or datetime.now(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tz).astimezone(timezone.utc)
    end = datetime.combine(today + timedelta(days=1), time.min, tz).astimezone(timezone.utc)
    return first, today, start, end


def local_day(column, dialect: str, tz: ZoneInfo, at: datetime):
    """SQL for the local calendar day of a naive-UTC column."""
    if dialect == "postgresql":
        return cast(func.timezone(tz.key, func.timezone("UTC", column)), Date)
    # SQLite has no time zones: shift by the zone's offset in the period (DST shifts by an hour at most).
    minutes = int(at.astimezone(tz).utcoffset().total_seconds() // 60)
    return func.date(column, f"{minutes:+d} minutes")


def _stores(query, column, store_ids):
    """The figure over `store_ids`; the chain (None) counts its live stores (core/live_stores.py)."""
    return query.where(column.in_(figure_scope(store_ids)))


def _customers(store_ids):
    """Customers a figure over `store_ids` counts; the chain's leave sandbox stores' out."""
    return customer_scope(store_ids) if store_ids is not None else customer_scope(None) & live_customer()


def sales_per_day(session, store_ids, tz: ZoneInfo, days: int) -> dict:
    first, today, start, end = period_bounds(days, tz)
    day = local_day(Sale.occurred_at, session.get_bind().dialect.name, tz, end)
    net = func.coalesce(func.sum(Sale.total - Sale.refunded_total), 0)
    query = _stores(select(day.label("day"), net, func.count(Sale.id))
                    .where(Sale.occurred_at >= start, Sale.occurred_at < end, Sale.status != "refunded"),
                    Sale.store_id, store_ids).group_by(day)
    rows = {str(d): (Decimal(a), n) for d, a, n in session.execute(query)}
    labels, amounts, counts = [], [], []
    for i in range(days):
        d = first + timedelta(days=i)
        amount, count = rows.get(str(d), (ZERO, 0))
        labels.append(d.strftime("%m-%d"))
        amounts.append(amount)
        counts.append(count)
    return {"labels": labels, "amounts": amounts, "counts": counts}


def sales_by_weekday(session, store_ids, tz: ZoneInfo, days: int) -> list[Decimal]:
    """Average net sales per weekday (Monday first) over the period: the store's weekly rhythm."""
    per_day = sales_per_day(session, store_ids, tz, days)
    first, *_ = period_bounds(days, tz)
    totals, seen = [ZERO] * 7, [0] * 7
    for i, amount in enumerate(per_day["amounts"]):
        wd = (first + timedelta(days=i)).weekday()
        totals[wd] += amount
        seen[wd] += 1
    return [(totals[i] / seen[i]).quantize(Decimal("0.01")) if seen[i] else ZERO for i in range(7)]


def tiles(session, store_ids, tz: ZoneInfo, days: int) -> dict:
    first, today, start, end = period_bounds(days, tz)
    _, _, today_start, today_end = period_bounds(1, tz)
    net = func.coalesce(func.sum(Sale.total - Sale.refunded_total), 0)

    def sales_between(a, b):
        amount, count = session.execute(_stores(select(net, func.count(Sale.id)).where(
            Sale.occurred_at >= a, Sale.occurred_at < b, Sale.status != "refunded"), Sale.store_id, store_ids)).one()
        return Decimal(amount), count

    period_amount, period_count = sales_between(start, end)
    today_amount, today_count = sales_between(today_start, today_end)
    buyers = session.scalar(_stores(select(func.count(func.distinct(Sale.customer_id))).where(
        Sale.occurred_at >= start, Sale.occurred_at < end, Sale.customer_id.is_not(None)), Sale.store_id, store_ids))
    members_sales = session.scalar(_stores(select(func.count(Sale.id)).where(
        Sale.occurred_at >= start, Sale.occurred_at < end, Sale.customer_id.is_not(None)), Sale.store_id, store_ids))
    customers = session.scalar(select(func.count(Customer.id)).where(_customers(store_ids)))
    new_customers = session.scalar(select(func.count(Customer.id)).where(
        _customers(store_ids), Customer.created_at >= start, Customer.created_at < end))
    visits = session.scalar(_stores(select(func.count(Visit.id)).where(Visit.occurred_at >= start, Visit.occurred_at < end),
                                    Visit.store_id, store_ids))
    # Failed deliveries are an operations figure: a sandbox store's count too.
    failed_query = select(func.count(EventDelivery.id)).join(Event).where(EventDelivery.status.in_(("failed", "dead")))
    if store_ids is not None:
        failed_query = failed_query.where(Event.store_id.in_(store_ids))
    failed = session.scalar(failed_query)
    return {
        "today_amount": today_amount, "today_count": today_count,
        "period_amount": period_amount, "period_count": period_count,
        "avg_ticket": (period_amount / period_count).quantize(Decimal("0.01")) if period_count else ZERO,
        "buyers": buyers, "customers": customers, "new_customers": new_customers, "visits": visits,
        "identified_share": round(100 * members_sales / period_count) if period_count else 0,
        "failed_deliveries": failed,
    }


def top_products(session, store_ids, tz: ZoneInfo, days: int, limit: int = 8) -> list[tuple[str, Decimal, Decimal]]:
    _, _, start, end = period_bounds(days, tz)
    paid = func.sum(SaleLine.amount + SaleLine.allocated_adjustment)
    query = _stores(
        select(func.coalesce(Product.name, SaleLine.name), func.sum(SaleLine.quantity - SaleLine.refunded_quantity), paid)
        .join(Sale, Sale.id == SaleLine.sale_id).outerjoin(Product, Product.id == SaleLine.product_id)
        .where(Sale.occurred_at >= start, Sale.occurred_at < end),
        Sale.store_id, store_ids,
    ).group_by(func.coalesce(Product.name, SaleLine.name)).order_by(paid.desc()).limit(limit)
    return [(name, Decimal(qty or 0), Decimal(amount or 0)) for name, qty, amount in session.execute(query)]


__all__ = ["period_bounds", "sales_by_weekday", "sales_per_day", "tiles", "top_products"]
