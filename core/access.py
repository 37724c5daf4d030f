"""Who sees which customer: the one visibility rule (domain.md, "Privacy and access").

A store *sees* a customer once they are linked to it: their home store, a sale or a visit
there (and, once built, the person presenting their full phone or member card at that
counter). An id is never a capability: every path that takes a customer id, or a record
that leads to a customer, loads it through `customer_or_404`, and every list of customers
is filtered with `visible_customers`. Plugins use the same two functions.
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import exists, or_, select

from core.errors import NotFound
from core.extensions import db
from core.models import Customer, Sale, Visit

_CALLER = object()


def visible_customers(store_ids):
    """A WHERE clause: customers a caller working in `store_ids` sees. `None` = every store."""
    if store_ids is None:
        return Customer.id.isnot(None)
    return or_(
        Customer.home_store_id.in_(store_ids),
        exists().where(Sale.customer_id == Customer.id, Sale.store_id.in_(store_ids)),
        exists().where(Visit.customer_id == Customer.id, Visit.store_id.in_(store_ids)),
    )


def caller_store_ids():
    """The stores the current caller works in (API token or admin user); None = every store."""
    if has_request_context():
        who = g.get("principal")
        if who is not None:
            return who.store_ids()
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            from core.admin.base import scope_store_ids

            return scope_store_ids()
    return None


def customer_or_404(customer_id, *, store_ids=_CALLER, session=None) -> Customer:
    """The customer, or NotFound (404) when it does not exist, was erased, or the caller's
    stores do not see it. `store_ids` defaults to the current caller's stores."""
    session = session or db.session
    if store_ids is _CALLER:
        store_ids = caller_store_ids()
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(f"customer {customer_id} not found") from None
    customer = session.get(Customer, customer_id) if -2**63 <= customer_id < 2**63 else None
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"customer {customer_id} not found")
    if store_ids is not None:
        seen = session.scalar(select(Customer.id).where(Customer.id == customer_id, visible_customers(store_ids)))
        if seen is None:
            raise NotFound(f"customer {customer_id} not found")
    return customer
