"""Which stores a chain figure counts: the one sandbox rule (docs/api.md, "Sandbox").

A store flagged `sandbox` is a test store (an integrator's till in development, staff
training). Its sales, visits and customers are real rows, but they are not the chain's
business: every figure computed *for the chain* (the owner's dashboard and analytics, the
lists' totals, the chain-wide classification cuts and percentiles, membership's points
liability) counts the live stores only, and no campaign of a live store reaches a customer
of a sandbox store. A page or call about named stores (the sandbox store picked in the
navbar, a token of that store) counts exactly those stores: the sandbox shows its own
figures normally.

Both helpers give SQL (a sub-select of store ids), not a list: a figure stays one statement
and needs no session, and a chain without a sandbox store pays a scan of its store table.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from core.models import Customer, Store


def live_store_ids():
    """SELECT of the ids of the live (not sandbox) stores: use with `column.in_(...)`."""
    return select(Store.id).where(Store.sandbox.is_(False))


def figure_scope(store_ids):
    """The stores a figure counts: `store_ids` as given, or, for the chain (`None`), the live
    stores. Callers filter with `column.in_(figure_scope(store_ids))`."""
    return live_store_ids() if store_ids is None else store_ids


def live_customer():
    """A WHERE clause: the customer is not a sandbox store's (no home store, or a live one).
    A campaign of a live store never reaches the others."""
    return or_(Customer.home_store_id.is_(None), Customer.home_store_id.in_(live_store_ids()))
