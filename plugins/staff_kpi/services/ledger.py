"""The sums staff_kpi reads from the ledger of sales and refunds, as set-based SELECTs.

Each sum comes from two plain aggregates whose rows are added up by whoever reads them: one
over the sales (or refunds) themselves — count, amount — and one over their lines joined to
them — units, amounts with and without a cost, cost. No aggregate is joined to another, so
the plan stays a pair of scans and a hash join whatever the tables' statistics say.

One builder serves both the daily roll-up (grouped by salesperson and local day) and the
from-scratch recomputation (grouped by salesperson only), so the two can be compared."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, exists, func, literal, select, union_all

from core.models import Refund, RefundLine, Sale, SaleLine

ALL = object()  # every salesperson (as opposed to None: sales with no salesperson)

MEASURES = ("count", "amount", "units", "costed_amount", "cost", "uncosted_amount")
ZERO = literal(0)


def staff_filter(column, staff):
    if staff is ALL:
        return None
    return column.is_(None) if staff is None else column == staff


def _where(clauses):
    return [c for c in clauses if c is not None]


def _keys(day, moment):
    return [Sale.staff_id.label("staff_id")] + ([day(moment).label("day")] if day else [])


def _group(day, moment):
    return [Sale.staff_id] + ([day(moment)] if day else [])


def sales_select(store_id: int, start: datetime, end: datetime, staff=ALL, day=None):
    """Sales of the store with `occurred_at` in [start, end): count, total, and from their lines
    units, net amount of lines with a cost, their cost, and net amount of lines without one
    (a sale recorded with only a total counts whole as without a cost).
    `day(column)` (optional) adds a local-day column to group by."""
    in_range = _where([Sale.store_id == store_id, Sale.occurred_at >= start, Sale.occurred_at < end,
                       staff_filter(Sale.staff_id, staff)])
    no_lines = ~exists().where(SaleLine.sale_id == Sale.id)
    by_sale = (select(*_keys(day, Sale.occurred_at), func.count(Sale.id).label("count"),
                      func.sum(Sale.total).label("amount"), ZERO.label("units"), ZERO.label("costed_amount"),
                      ZERO.label("cost"), func.sum(case((no_lines, Sale.total), else_=0)).label("uncosted_amount"))
               .where(*in_range).group_by(*_group(day, Sale.occurred_at)))
    net = SaleLine.amount + SaleLine.allocated_adjustment
    has_cost = SaleLine.unit_cost.is_not(None)
    by_line = (select(*_keys(day, Sale.occurred_at), ZERO.label("count"), ZERO.label("amount"),
                      func.sum(SaleLine.quantity).label("units"),
                      func.sum(case((has_cost, net), else_=0)).label("costed_amount"),
                      func.sum(case((has_cost, SaleLine.quantity * SaleLine.unit_cost), else_=0)).label("cost"),
                      func.sum(case((has_cost, 0), else_=net)).label("uncosted_amount"))
               .select_from(Sale).join(SaleLine, SaleLine.sale_id == Sale.id)
               .where(*in_range).group_by(*_group(day, Sale.occurred_at)))
    return union_all(by_sale, by_line)


def refunds_select(store_id: int, start: datetime, end: datetime, *, at: str, staff=ALL, day=None):
    """Refunds of the store's sales, attributed to the salesperson of the original sale, whose
    refund time (`at="refund"`) or original sale time (`at="sale"`) is in [start, end)."""
    moment = Refund.created_at if at == "refund" else Sale.occurred_at
    in_range = _where([Sale.store_id == store_id, moment >= start, moment < end, staff_filter(Sale.staff_id, staff)])
    no_lines = ~exists().where(RefundLine.refund_id == Refund.id)
    by_refund = (select(*_keys(day, moment), func.count(Refund.id).label("count"),
                        func.sum(Refund.amount).label("amount"), ZERO.label("units"), ZERO.label("costed_amount"),
                        ZERO.label("cost"), func.sum(case((no_lines, Refund.amount), else_=0)).label("uncosted_amount"))
                 .select_from(Refund).join(Sale, Sale.id == Refund.sale_id)
                 .where(*in_range).group_by(*_group(day, moment)))
    has_cost = SaleLine.unit_cost.is_not(None)
    by_line = (select(*_keys(day, moment), ZERO.label("count"), ZERO.label("amount"),
                      func.sum(RefundLine.quantity).label("units"),
                      func.sum(case((has_cost, RefundLine.amount), else_=0)).label("costed_amount"),
                      func.sum(case((has_cost, RefundLine.quantity * SaleLine.unit_cost), else_=0)).label("cost"),
                      func.sum(case((has_cost, 0), else_=RefundLine.amount)).label("uncosted_amount"))
               .select_from(RefundLine).join(Refund, Refund.id == RefundLine.refund_id)
               .join(Sale, Sale.id == Refund.sale_id).join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
               .where(*in_range).group_by(*_group(day, moment)))
    return union_all(by_refund, by_line)
