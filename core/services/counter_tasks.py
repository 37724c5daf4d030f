"""The counter's task lists for a store: birthdays this month (本月生日) and customers to win back
(at risk or churned, most valuable first). Set-based: one query per list, limited."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.access import visible_customers
from core.models import Customer, Sale
from core.services.customer_figures import counted_sales

WIN_BACK_STAGES = ("at_risk", "churned")


def _seen(store_ids):
    clauses = [Customer.erased_at.is_(None)]
    if store_ids is not None:
        clauses.append(visible_customers(store_ids))
    return clauses


def birthdays_in_month(session, store_ids, month: int, limit: int = 300) -> list[Customer]:
    """Customers the stores see whose birthday falls in `month`, by day of the month."""
    return list(session.scalars(select(Customer).where(*_seen(store_ids), Customer.birth_month == month,
                                                       Customer.birth_day.is_not(None))
                                .order_by(Customer.birth_day, Customer.name, Customer.id).limit(limit)))


def win_back(session, store_ids, scope_id: int, limit: int = 100) -> list[dict]:
    """Customers whose lifecycle in `scope_id` (a store, or 0 = the chain) is at risk or churned,
    by their spend in the stores (net of refunds, all time) highest first: the ones worth a call."""
    from core.classification.models import CustomerClass

    spend = (select(Sale.customer_id.label("customer_id"),
                    func.sum(Sale.total - Sale.refunded_total).label("spend"),
                    func.max(Sale.occurred_at).label("last_purchase_at"))
             .where(*counted_sales(store_ids)).group_by(Sale.customer_id).subquery())
    rows = session.execute(
        select(Customer, CustomerClass.lifecycle, spend.c.spend, spend.c.last_purchase_at)
        .join(CustomerClass, CustomerClass.customer_id == Customer.id)
        .join(spend, spend.c.customer_id == Customer.id)
        .where(*_seen(store_ids), CustomerClass.scope_id == scope_id, CustomerClass.lifecycle.in_(WIN_BACK_STAGES))
        .order_by(spend.c.spend.desc(), Customer.id).limit(limit))
    return [{"customer": c, "lifecycle": life, "spend": Decimal(amount).quantize(Decimal("0.01")),
             "last_purchase_at": last} for c, life, amount, last in rows]
