"""Every figure of every salesperson of a store over a period (see README.md, "Definitions").

Sales figures are sums of the daily roll-up; customer figures (served, repurchased, new) are
not additive over days and come from one set-based query each over the period; other plugins'
metrics come from `kpi_metrics`. `from_ledger` recomputes the sales figures straight from the
sales and refunds, for the roll-up's check."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Integer, case, func, literal, or_, select, union_all

from core.models import Event, Sale, Store, User
from core.models.user import user_store
from plugins.staff_kpi.models import DailyFigure, SaleFact
from plugins.staff_kpi.services import ledger
from plugins.staff_kpi.services.periods import Period, plus_days_sql

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
REFUND_KIND = {"refund_period": "refund_at_refund", "sale_period": "refund_at_sale"}


def percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def cents(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def empty_sums() -> dict:
    return {m: Decimal(0) for m in ledger.MEASURES}


def derive(sale: dict, refund: dict) -> dict:
    """The sales figures from the sums of sales and of the refunds counted against them."""
    net = sale["amount"] - refund["amount"]
    costed = sale["costed_amount"] - refund["costed_amount"]
    cost = sale["cost"] - refund["cost"]
    gross_profit = cents(costed - cost)
    return {
        "sales_amount": cents(sale["amount"]), "sales_count": int(sale["count"]),
        "units": (sale["units"] - refund["units"]).normalize() if sale["units"] - refund["units"] else Decimal(0),
        "refund_amount": cents(refund["amount"]), "refund_count": int(refund["count"]),
        "net_amount": cents(net), "gross_profit": gross_profit,
        "margin_percent": percent(gross_profit, costed) if costed > 0 else None,
        "uncosted_amount": cents(sale["uncosted_amount"] - refund["uncosted_amount"]),
        "average_ticket": cents(net / sale["count"]) if sale["count"] else None,
    }


def rollup_sums(session, store: Store, period: Period, attribution: str) -> dict:
    """{staff_id: {"sale": sums, "refund": sums}} from the roll-up."""
    refund_kind = REFUND_KIND[attribution]
    rows = session.execute(
        select(DailyFigure.staff_id, DailyFigure.kind, *[func.sum(getattr(DailyFigure, m)).label(m) for m in ledger.MEASURES])
        .where(DailyFigure.store_id == store.id, DailyFigure.day >= period.first_day, DailyFigure.day <= period.last_day,
               DailyFigure.kind.in_(("sale", refund_kind)))
        .group_by(DailyFigure.staff_id, DailyFigure.kind))
    out: dict = {}
    for row in rows:
        slot = out.setdefault(row.staff_id, {"sale": empty_sums(), "refund": empty_sums()})
        slot["sale" if row.kind == "sale" else "refund"] = {m: Decimal(getattr(row, m) or 0) for m in ledger.MEASURES}
    return out


def ledger_sums(session, store: Store, period: Period, attribution: str) -> dict:
    """The same as `rollup_sums`, straight from sales and refunds (the roll-up's check)."""
    at = "refund" if attribution == "refund_period" else "sale"
    out: dict = {}
    for slot_name, query in (("sale", ledger.sales_select(store.id, period.start, period.end)),
                             ("refund", ledger.refunds_select(store.id, period.start, period.end, at=at))):
        for row in session.execute(query):  # two rows per salesperson: the receipts' and the lines' sums
            slot = out.setdefault(row.staff_id, {"sale": empty_sums(), "refund": empty_sums()})
            for m in ledger.MEASURES:
                slot[slot_name][m] += Decimal(getattr(row, m) or 0)
    return out


def from_ledger(session, store: Store, period: Period, attribution: str) -> dict:
    """{staff_id: sales figures} recomputed from scratch."""
    return {staff: derive(s["sale"], s["refund"]) for staff, s in ledger_sums(session, store, period, attribution).items()}


def from_rollup(session, store: Store, period: Period, attribution: str) -> dict:
    return {staff: derive(s["sale"], s["refund"]) for staff, s in rollup_sums(session, store, period, attribution).items()}


STORE = "store"  # the key of the whole store's customer figures


def customer_figures(session, store: Store, period: Period, window_days: int) -> dict:
    """{staff_id: {"customers_served", "customers_repurchased", "new_customers"}}, and the same
    for the whole store under the key STORE (where a customer counts once), from the sale facts.

    Served: distinct customers of the salesperson's sales in the period (sales refunded in
    full excluded). Repurchased: of those, the ones whose next sale in the store (any
    salesperson, not refunded in full) after their first sale with this salesperson in the
    period comes at most `window_days` days later. New: served customers with no sale in any
    store before their first sale with this salesperson in the period.

    Plain aggregates of the period's fact rows: the next sale after a customer's earliest sale
    in a group is the smallest "next sale" of the group (it never decreases with time), and the
    group's earliest sale is a first purchase exactly when some sale of the group is one."""
    dialect = session.get_bind().dialect.name
    pairs = (select(SaleFact.staff_id, SaleFact.customer_id, func.min(SaleFact.occurred_at).label("first_at"),
                    func.min(SaleFact.next_at).label("next_at"), func.max(SaleFact.first_ever).label("new"))
             .where(SaleFact.store_id == store.id, SaleFact.occurred_at >= period.start, SaleFact.occurred_at < period.end)
             .group_by(SaleFact.staff_id, SaleFact.customer_id).cte("pairs"))
    customers = (select(pairs.c.customer_id, func.min(pairs.c.first_at).label("first_at"),
                        func.min(pairs.c.next_at).label("next_at"), func.max(pairs.c.new).label("new"))
                 .group_by(pairs.c.customer_id).subquery())

    def counts(level, source, staff):
        again = source.c.next_at <= plus_days_sql(source.c.first_at, window_days, dialect)
        return select(literal(level).label("level"), staff.label("staff_id"), func.count().label("served"),
                      func.sum(case((again, 1), else_=0)).label("repurchased"), func.sum(source.c.new).label("new"))

    by_staff = counts("staff", pairs, pairs.c.staff_id).group_by(pairs.c.staff_id)
    return _collect(session, union_all(by_staff, counts(STORE, customers, literal(None, Integer))))


def _collect(session, query) -> dict:
    out = {}
    for r in session.execute(query):
        if r.level == STORE and not r.served:
            continue
        out[STORE if r.level == STORE else r.staff_id] = {
            "customers_served": int(r.served), "customers_repurchased": int(r.repurchased or 0),
            "new_customers": int(r.new or 0)}
    return out


def customer_figures_from_ledger(session, store: Store, period: Period, window_days: int) -> dict:
    """`customer_figures` recomputed straight from the sales (the sale facts' check).

    Served: distinct customers of the salesperson's sales in the period (sales refunded in
    full excluded). Repurchased: of those, the ones whose next sale in the store (any
    salesperson, not refunded in full) after their first sale with this salesperson in the
    period comes at most `window_days` days later. New: served customers with no sale in any
    store before their first sale with this salesperson in the period.

    One sort of the store's sales (LEAD over each customer's sales gives every sale's next
    sale), then plain aggregates: the next sale after a customer's earliest sale in a group is
    the smallest "next sale" in that group, since "next sale" never decreases with time."""
    dialect = session.get_bind().dialect.name
    sales = select(
        Sale.staff_id.label("staff_id"), Sale.customer_id.label("customer_id"), Sale.occurred_at.label("at"),
        func.lead(Sale.occurred_at).over(partition_by=Sale.customer_id, order_by=(Sale.occurred_at, Sale.id)).label("next_at"),
    ).where(Sale.store_id == store.id, Sale.customer_id.is_not(None), Sale.status != "refunded",
            Sale.occurred_at >= period.start, Sale.occurred_at < period.end + timedelta(days=window_days)).subquery()
    pairs = (select(sales.c.staff_id, sales.c.customer_id, func.min(sales.c.at).label("first_at"),
                    func.min(sales.c.next_at).label("next_at"))
             .where(sales.c.at < period.end).group_by(sales.c.staff_id, sales.c.customer_id).cte("pairs"))
    customers = (select(pairs.c.customer_id, func.min(pairs.c.first_at).label("first_at"),
                        func.min(pairs.c.next_at).label("next_at"))
                 .group_by(pairs.c.customer_id).subquery())
    ever = (select(Sale.customer_id.label("customer_id"), func.min(Sale.occurred_at).label("first_ever"))
            .where(Sale.customer_id.in_(select(pairs.c.customer_id))).group_by(Sale.customer_id).cte("ever"))

    def counts(level, source, staff):
        again = source.c.next_at <= plus_days_sql(source.c.first_at, window_days, dialect)
        return (select(literal(level).label("level"), staff.label("staff_id"), func.count().label("served"),
                       func.sum(case((again, 1), else_=0)).label("repurchased"),
                       func.sum(case((ever.c.first_ever < source.c.first_at, 0), else_=1)).label("new"))
                .select_from(source).join(ever, ever.c.customer_id == source.c.customer_id))

    by_staff = counts("staff", pairs, pairs.c.staff_id).group_by(pairs.c.staff_id)
    return _collect(session, union_all(by_staff, counts(STORE, customers, literal(None, Integer))))


def profiles_created(session, store: Store, period: Period) -> dict:
    """{user_id: customer profiles they created in the store (the core's customer_created events)}."""
    rows = session.execute(
        select(Event.actor_user_id, func.count(Event.id))
        .where(Event.name == "customer_created", Event.store_id == store.id, Event.actor_user_id.is_not(None),
               Event.created_at >= period.start, Event.created_at < period.end)
        .group_by(Event.actor_user_id))
    return {user_id: int(n) for user_id, n in rows}


def store_staff(session, store: Store, extra_ids=()) -> list[User]:
    """The people of the store (staff and managers assigned to it) and anyone else who sold there."""
    assigned = select(user_store.c.user_id).where(user_store.c.store_id == store.id)
    ids = [i for i in extra_ids if i is not None]
    return list(session.scalars(select(User).where(or_(User.id.in_(assigned), User.id.in_(ids)))
                                .order_by(User.username)))


def daily_net(session, store: Store, period: Period, attribution: str, staff_ids=None) -> dict:
    """{staff_id: {local day: net sales}} from the roll-up (the trend charts)."""
    refund_kind = REFUND_KIND[attribution]
    signed = case((DailyFigure.kind == "sale", DailyFigure.amount), else_=-DailyFigure.amount)
    query = (select(DailyFigure.staff_id, DailyFigure.day, func.sum(signed))
             .where(DailyFigure.store_id == store.id, DailyFigure.day >= period.first_day,
                    DailyFigure.day <= period.last_day, DailyFigure.kind.in_(("sale", refund_kind)))
             .group_by(DailyFigure.staff_id, DailyFigure.day))
    if staff_ids is not None:
        query = query.where(DailyFigure.staff_id.in_(staff_ids))
    out: dict = {}
    for staff_id, day, amount in session.execute(query):
        out.setdefault(staff_id, {})[day] = Decimal(amount or 0)
    return out
