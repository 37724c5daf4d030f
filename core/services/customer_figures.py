"""A customer's purchase figures, defined once for the customer page's tiles, the customer and
member lists' columns and their exports.

- **Spend**: net of refunds (`total - refunded_total`) of the customer's sales, wholly
  refunded sales excluded.
- **Visits** (到店次数): sales counted the same way (a purchase is a visit to the till).
- **Average ticket**: spend ÷ visits.
- **Last purchase**: the latest of those sales.
- **Class**: the classification's final class and lifecycle for the scope (a store, or the
  chain), as the nightly run stored them.

`store_ids` is the stores the page covers (None: the chain's live stores, sandboxes left out);
figures are set-based, one query for a whole page of customers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.live_stores import figure_scope
from core.models import Sale

ZERO = Decimal("0.00")


def counted_sales(store_ids):
    """The WHERE clauses of a sale that counts towards a customer's figures."""
    # The chain (None) counts its live stores only (core/live_stores.py).
    return [Sale.status != "refunded", Sale.customer_id.is_not(None), Sale.store_id.in_(figure_scope(store_ids))]


def purchase_figures(session, customer_ids, store_ids) -> dict[int, dict]:
    """{customer_id: {"spend", "visits", "average_ticket", "last_purchase_at"}} for the given
    customers (those without a sale are absent)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    spend = func.coalesce(func.sum(Sale.total - Sale.refunded_total), 0)
    rows = session.execute(select(Sale.customer_id, spend, func.count(Sale.id), func.max(Sale.occurred_at))
                           .where(Sale.customer_id.in_(ids), *counted_sales(store_ids))
                           .group_by(Sale.customer_id))
    out = {}
    for customer_id, amount, visits, last in rows:
        amount = Decimal(amount).quantize(Decimal("0.01"))
        out[customer_id] = {"spend": amount, "visits": int(visits), "last_purchase_at": last,
                            "average_ticket": (amount / visits).quantize(Decimal("0.01")) if visits else ZERO}
    return out


def empty_figures() -> dict:
    return {"spend": ZERO, "visits": 0, "average_ticket": ZERO, "last_purchase_at": None}


def monthly_spend(session, customer_id: int, store_ids, tz: ZoneInfo, months: int = 12,
                  today: date | None = None) -> tuple[list[str], list[Decimal]]:
    """Net spend per local calendar month, the last `months` months (this one included)."""
    today = today or datetime.now(tz).date()
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    firsts.reverse()
    start = datetime.combine(firsts[0], time.min, tz).astimezone(timezone.utc)
    rows = session.execute(select(Sale.occurred_at, Sale.total - Sale.refunded_total)
                           .where(Sale.customer_id == customer_id, Sale.occurred_at >= start,
                                  *counted_sales(store_ids))).all()
    # One customer's year of receipts: a few hundred rows at most, bucketed here so that every
    # backend agrees on the local month.
    totals = {f: ZERO for f in firsts}
    for occurred_at, amount in rows:
        local = occurred_at.replace(tzinfo=timezone.utc).astimezone(tz) if occurred_at.tzinfo is None \
            else occurred_at.astimezone(tz)
        key = date(local.year, local.month, 1)
        if key in totals:
            totals[key] += Decimal(amount)
    return [f.strftime("%Y-%m") for f in firsts], [totals[f] for f in firsts]


def customer_classes(session, customer_ids, scope_id: int) -> dict[int, tuple[str, str]]:
    """{customer_id: (final_class, lifecycle)} as stored for `scope_id` (a store id, or 0 = chain)."""
    from core.classification.models import CustomerClass

    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(select(CustomerClass.customer_id, CustomerClass.final_class, CustomerClass.lifecycle)
                           .where(CustomerClass.customer_id.in_(ids), CustomerClass.scope_id == scope_id))
    return {cid: (final, life) for cid, final, life in rows}
