"""Sales statistics in each store's time zone, on SQLite and PostgreSQL.

The database groups sales into UTC hour buckets per store (set-based, so a year of sales
becomes at most ~9k rows per store); Python then moves each bucket to the store's wall clock
and folds it into days, weeks, months, weekdays and seasons. That is exact for every time
zone with whole-hour offsets (all of China) and keeps one SQL for both backends; zones with
half-hour offsets use 15-minute buckets."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core.live_stores import figure_scope
from core.models import Product, Sale, SaleLine, Store, utcnow

ZERO = Decimal("0.00")
SEASONS = ("spring", "summer", "autumn", "winter")
SEASON_OF_MONTH = {3: "spring", 4: "spring", 5: "spring", 6: "summer", 7: "summer", 8: "summer",
                   9: "autumn", 10: "autumn", 11: "autumn", 12: "winter", 1: "winter", 2: "winter"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class utc_bucket(FunctionElement):
    """The stored UTC time truncated to the hour, or to 15 minutes, as 'YYYY-MM-DD HH:MM'."""

    type = String()
    inherit_cache = True
    name = "utc_bucket"

    def __init__(self, column, minutes: int = 60):
        self.minutes = minutes
        super().__init__(column)


@compiles(utc_bucket, "sqlite")
def _bucket_sqlite(element, compiler, **kw):
    col = compiler.process(element.clauses, **kw)
    if element.minutes == 60:
        return f"strftime('%Y-%m-%d %H:00', {col})"
    return (f"(strftime('%Y-%m-%d %H:', {col}) || printf('%02d', "
            f"(CAST(strftime('%M', {col}) AS INTEGER) / {element.minutes}) * {element.minutes}))")


@compiles(utc_bucket, "postgresql")
def _bucket_pg(element, compiler, **kw):
    col = compiler.process(element.clauses, **kw)
    if element.minutes == 60:
        return f"to_char({col}, 'YYYY-MM-DD HH24:00')"
    return (f"(to_char({col}, 'YYYY-MM-DD HH24:') || lpad(CAST((CAST(EXTRACT(MINUTE FROM {col}) AS INTEGER)"
            f" / {element.minutes}) * {element.minutes} AS TEXT), 2, '0'))")


def _bucket_minutes(tz: ZoneInfo) -> int:
    offset = datetime.now(tz).utcoffset() or timedelta(0)
    return 60 if (offset.total_seconds() / 60) % 60 == 0 else 15


@dataclass
class Bucket:
    """Sales of one store in one local-time slot."""

    store_id: int
    local: datetime
    amount: Decimal  # net of refunds
    count: int  # sales that count (not wholly refunded)


def stores_for(session, store_ids: list[int] | None) -> list[Store]:
    """The stores a report covers; the chain (None) is its live stores (core/live_stores.py)."""
    query = select(Store).where(Store.id.in_(figure_scope(store_ids))).order_by(Store.code)
    return list(session.scalars(query))


def local_bounds(store: Store, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants of [first 00:00, last+1 00:00) on the store's wall clock."""
    tz = store.tz
    return (datetime.combine(first, time(0), tz).astimezone(timezone.utc),
            datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(timezone.utc))


def buckets(session, stores: list[Store], first: date, last: date) -> list[Bucket]:
    """Net sales and counts per store per local time slot, for local dates first..last."""
    out: list[Bucket] = []
    for store in stores:
        start, end = local_bounds(store, first, last)
        minutes = _bucket_minutes(store.tz)
        slot = utc_bucket(Sale.occurred_at, minutes)
        counting = Sale.status != "refunded"
        rows = session.execute(
            select(slot.label("slot"), func.sum(Sale.total - Sale.refunded_total),
                   func.sum(case((counting, 1), else_=0)))
            .where(Sale.store_id == store.id, Sale.occurred_at >= start, Sale.occurred_at < end)
            .group_by(slot)
        ).all()
        for slot_text, amount, count in rows:
            moment = datetime.strptime(slot_text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
            out.append(Bucket(store.id, moment.astimezone(store.tz), Decimal(str(amount or 0)).quantize(ZERO),
                              int(count or 0)))
    return out


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    return day


def _periods(first: date, last: date, period: str) -> list[date]:
    out, current = [], _period_start(first, period)
    while current <= last:
        out.append(current)
        if period == "day":
            current += timedelta(days=1)
        elif period == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def sales_series(session, store_ids: list[int] | None, period: str, first: date, last: date) -> dict:
    """{"period", "from", "to", "rows": [{"start", "amount", "count", "average_ticket"}],
    "totals": {...}}, per store and for all of them together (the chain)."""
    stores = stores_for(session, store_ids)
    by_key: dict[tuple[int | None, date], list] = defaultdict(lambda: [ZERO, 0])
    for b in buckets(session, stores, first, last):
        key_day = _period_start(b.local.date(), period)
        for owner in (b.store_id, None):
            acc = by_key[(owner, key_day)]
            acc[0] += b.amount
            acc[1] += b.count

    def rows(owner):
        out = []
        for start in _periods(first, last, period):
            amount, count = by_key.get((owner, start), (ZERO, 0))
            out.append({"start": start, "amount": amount, "count": count,
                        "average_ticket": (amount / count).quantize(ZERO) if count else ZERO})
        return out

    def totals(series):
        amount = sum((r["amount"] for r in series), ZERO)
        count = sum(r["count"] for r in series)
        return {"amount": amount, "count": count, "average_ticket": (amount / count).quantize(ZERO) if count else ZERO}

    chain_rows = rows(None)
    return {
        "period": period, "from": first, "to": last,
        "stores": [{"store": s.code, "rows": (r := rows(s.id)), "totals": totals(r)} for s in stores],
        "all": {"store": None, "rows": chain_rows, "totals": totals(chain_rows)},
    }


def preferences(session, store_ids: list[int] | None, first: date, last: date, top: int = 3) -> dict:
    """When customers buy (hour, weekday, season of the local calendar) and what they buy
    in each season (top categories by net amount)."""
    stores = stores_for(session, store_ids)
    by_hour = [[ZERO, 0] for _ in range(24)]
    by_weekday = [[ZERO, 0] for _ in range(7)]
    by_season = {s: [ZERO, 0] for s in SEASONS}
    for b in buckets(session, stores, first, last):
        for acc in (by_hour[b.local.hour], by_weekday[b.local.weekday()], by_season[SEASON_OF_MONTH[b.local.month]]):
            acc[0] += b.amount
            acc[1] += b.count
    categories: dict[str, dict[str, Decimal]] = {s: defaultdict(lambda: ZERO) for s in SEASONS}
    line_net = SaleLine.amount + SaleLine.allocated_adjustment
    for store in stores:
        start, end = local_bounds(store, first, last)
        slot = utc_bucket(Sale.occurred_at, _bucket_minutes(store.tz))
        rows = session.execute(
            select(slot, Product.category, func.sum(line_net * (SaleLine.quantity - SaleLine.refunded_quantity)
                                                    / SaleLine.quantity))
            .select_from(SaleLine).join(Sale, Sale.id == SaleLine.sale_id).join(Product, Product.id == SaleLine.product_id)
            .where(Sale.store_id == store.id, Sale.occurred_at >= start, Sale.occurred_at < end,
                   Product.category.is_not(None))
            .group_by(slot, Product.category)
        ).all()
        for slot_text, category, amount in rows:
            local = datetime.strptime(slot_text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).astimezone(store.tz)
            categories[SEASON_OF_MONTH[local.month]][category] += Decimal(str(amount or 0))

    def row(label, acc):
        return {"key": label, "amount": acc[0].quantize(ZERO), "count": acc[1]}

    return {
        "from": first, "to": last,
        "hours": [row(h, acc) for h, acc in enumerate(by_hour)],
        "weekdays": [row(WEEKDAYS[d], acc) for d, acc in enumerate(by_weekday)],
        "seasons": [{**row(s, by_season[s]),
                     "top_categories": [{"category": c, "amount": a.quantize(ZERO)} for c, a in
                                        sorted(categories[s].items(), key=lambda kv: (-kv[1], kv[0]))[:top]]}
                    for s in SEASONS],
    }


def product_ranking(session, store_ids: list[int] | None, first: date, last: date, limit: int = 10) -> dict:
    """Best sellers by net amount, and the slow sellers (滞销商品), defined here once: active
    products with the least net revenue in the period (nothing sold first), then the fewest
    units; never one of the best sellers. A dear item that sells few units but brings in
    much (a coat) is not slow."""
    stores = stores_for(session, store_ids)
    if not stores:
        return {"from": first, "to": last, "best": [], "slowest": []}
    # One UTC window covering every store's local dates (stores of a chain share a zone in
    # practice; each store's own bounds would need one query per store).
    start = min(local_bounds(s, first, last)[0] for s in stores)
    end = max(local_bounds(s, first, last)[1] for s in stores)
    net_qty = SaleLine.quantity - SaleLine.refunded_quantity
    net_amount = (SaleLine.amount + SaleLine.allocated_adjustment) * net_qty / SaleLine.quantity
    sold = (
        select(SaleLine.product_id.label("product_id"), func.sum(net_qty).label("quantity"),
               func.sum(net_amount).label("amount"), func.count(func.distinct(Sale.id)).label("sales"))
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.store_id.in_([s.id for s in stores]), Sale.occurred_at >= start, Sale.occurred_at < end)
        .group_by(SaleLine.product_id)
        .subquery()
    )
    qty = func.coalesce(sold.c.quantity, 0)
    amount = func.coalesce(sold.c.amount, 0)
    base = (select(Product.sku, Product.name, Product.category, qty.label("quantity"), amount.label("amount"),
                   func.coalesce(sold.c.sales, 0).label("sales"))
            .select_from(Product).outerjoin(sold, sold.c.product_id == Product.id))

    def listing(stmt):
        return [{"sku": r.sku, "name": r.name, "category": r.category, "quantity": float(r.quantity),
                 "amount": Decimal(str(r.amount)).quantize(ZERO), "sales": int(r.sales)} for r in session.execute(stmt)]

    best = listing(base.where(sold.c.product_id.is_not(None)).order_by(amount.desc(), Product.sku).limit(limit))
    best_skus = [row["sku"] for row in best]
    slow = base.where(Product.active.is_(True))
    if best_skus:
        slow = slow.where(Product.sku.not_in(best_skus))
    slowest = listing(slow.order_by(amount.asc(), qty.asc(), Product.sku).limit(limit))
    return {"from": first, "to": last, "best": best, "slowest": slowest}


def daily_amounts(session, store_ids: list[int] | None, days: int, today: date | None = None) -> tuple[list[date], list[Decimal]]:
    """Net sales per local day for the `days` days before today (today, unfinished, left out)."""
    stores = stores_for(session, store_ids)
    if today is None:
        tz = stores[0].tz if stores else ZoneInfo("Asia/Shanghai")
        today = utcnow().astimezone(tz).date()
    last = today - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    series = sales_series(session, [s.id for s in stores], "day", first, last)["all"]["rows"]
    return [r["start"] for r in series], [r["amount"] for r in series]
