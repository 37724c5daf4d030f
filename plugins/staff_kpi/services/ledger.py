"""The sums staff_kpi reads from the ledger of sales and refunds, as set-based SELECTs.

One builder serves both the daily roll-up (grouped by salesperson and local day) and the
from-scratch recomputation (grouped by salesperson only), so the two can be compared."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, literal, select

from core.models import Refund, RefundLine, Sale, SaleLine

ALL = object()  # every salesperson (as opposed to None: sales with no salesperson)

MEASURES = ("count", "amount", "units", "costed_amount", "cost", "uncosted_amount")


def staff_filter(column, staff):
    if staff is ALL:
        return None
    return column.is_(None) if staff is None else column == staff


def _where(clauses):
    return [c for c in clauses if c is not None]


def sales_select(store_id: int, start: datetime, end: datetime, staff=ALL, day=None):
    """Sales of the store with `occurred_at` in [start, end): count, total, and from their lines
    units, net amount of lines with a cost, their cost, and net amount of lines without one.
    `day(column)` (optional) adds a local-day column to group by."""
    in_range = _where([Sale.store_id == store_id, Sale.occurred_at >= start, Sale.occurred_at < end,
                       staff_filter(Sale.staff_id, staff)])
    net = SaleLine.amount + SaleLine.allocated_adjustment
    has_cost = SaleLine.unit_cost.is_not(None)
    lines = (select(SaleLine.sale_id.label("sale_id"),
                    func.sum(SaleLine.quantity).label("units"),
                    func.sum(case((has_cost, net), else_=0)).label("costed"),
                    func.sum(case((has_cost, SaleLine.quantity * SaleLine.unit_cost), else_=0)).label("cost"),
                    func.sum(case((has_cost, 0), else_=net)).label("uncosted"))
             .where(SaleLine.sale_id.in_(select(Sale.id).where(*in_range)))
             .group_by(SaleLine.sale_id).subquery())
    keys = [Sale.staff_id.label("staff_id")] + ([day(Sale.occurred_at).label("day")] if day else [])
    return (select(*keys,
                   func.count(Sale.id).label("count"),
                   func.sum(Sale.total).label("amount"),
                   func.coalesce(func.sum(lines.c.units), 0).label("units"),
                   func.coalesce(func.sum(lines.c.costed), 0).label("costed_amount"),
                   func.coalesce(func.sum(lines.c.cost), 0).label("cost"),
                   # a sale recorded with only a total has no lines: all of it is without a cost
                   func.sum(func.coalesce(lines.c.uncosted, Sale.total)).label("uncosted_amount"))
            .select_from(Sale).outerjoin(lines, lines.c.sale_id == Sale.id)
            .where(*in_range).group_by(*[k.element if hasattr(k, "element") else k for k in keys]))


def refunds_select(store_id: int, start: datetime, end: datetime, *, at: str, staff=ALL, day=None):
    """Refunds of the store's sales, attributed to the salesperson of the original sale, whose
    refund time (`at="refund"`) or original sale time (`at="sale"`) is in [start, end)."""
    moment = Refund.created_at if at == "refund" else Sale.occurred_at
    in_range = _where([Sale.store_id == store_id, moment >= start, moment < end, staff_filter(Sale.staff_id, staff)])
    has_cost = SaleLine.unit_cost.is_not(None)
    lines = (select(RefundLine.refund_id.label("refund_id"),
                    func.sum(RefundLine.quantity).label("units"),
                    func.sum(case((has_cost, RefundLine.amount), else_=0)).label("costed"),
                    func.sum(case((has_cost, RefundLine.quantity * SaleLine.unit_cost), else_=0)).label("cost"),
                    func.sum(case((has_cost, 0), else_=RefundLine.amount)).label("uncosted"))
             .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
             .where(RefundLine.refund_id.in_(select(Refund.id).join(Sale, Sale.id == Refund.sale_id).where(*in_range)))
             .group_by(RefundLine.refund_id).subquery())
    keys = [Sale.staff_id.label("staff_id")] + ([day(moment).label("day")] if day else [])
    return (select(*keys,
                   func.count(Refund.id).label("count"),
                   func.sum(Refund.amount).label("amount"),
                   func.coalesce(func.sum(lines.c.units), 0).label("units"),
                   func.coalesce(func.sum(lines.c.costed), 0).label("costed_amount"),
                   func.coalesce(func.sum(lines.c.cost), 0).label("cost"),
                   func.sum(func.coalesce(lines.c.uncosted, Refund.amount)).label("uncosted_amount"))
            .select_from(Refund).join(Sale, Sale.id == Refund.sale_id).outerjoin(lines, lines.c.refund_id == Refund.id)
            .where(*in_range).group_by(*[k.element if hasattr(k, "element") else k for k in keys]))


def kind_literal(kind: str):
    return literal(kind).label("kind")
