"""Who sees which customer: the one visibility rule (domain.md, "Privacy and access").

A customer belongs to the chain. A store *sees* a customer once the two are linked: their
home store, a sale or a visit there, or the person presenting their full phone number or
member card at that store's counter (a `customer_store_link` row, written by
`link_customer`, audited). An id is never a capability: every path that takes a customer
id, or a record that leads to a customer, loads it through `customer_or_404` (or
`record_or_404`), and every list of customers is filtered with `visible_customers`.
Plugins use the same functions (docs/hooks.md, "Loading customers in a plugin").
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import bindparam, exists, or_, select

from core.errors import NotFound
from core.extensions import db
from core.models import Customer, CustomerStoreLink, Sale, Visit, utcnow
from core.models.prepared import Prepared
from core.models.types import insert_for

_CALLER = object()


def visible_customers(store_ids):
    """A WHERE clause: customers a caller working in `store_ids` sees. `None` = every store.
    `store_ids` may also be an expanding bind parameter (a statement built once)."""
    if store_ids is None:
        return Customer.id.isnot(None)
    return or_(
        Customer.home_store_id.in_(store_ids),
        exists().where(CustomerStoreLink.customer_id == Customer.id, CustomerStoreLink.store_id.in_(store_ids)),
        exists().where(Sale.customer_id == Customer.id, Sale.store_id.in_(store_ids)),
        exists().where(Visit.customer_id == Customer.id, Visit.store_id.in_(store_ids)),
    )


def caller_store_ids():
    """The stores the current caller works in (API token or admin user); None = every store.

    Outside a request (a job, a command run on the server) there is no caller: None."""
    if has_request_context():
        who = g.get("principal")
        if who is not None:
            return who.store_ids()
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            if current_user.role == "owner":
                return None
            return [s.id for s in current_user.stores]
        return []  # an anonymous request sees nobody
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
    customer = None
    if -2**63 <= customer_id < 2**63:
        # One statement: the row and the rule together.
        stmt = select(Customer).where(Customer.id == customer_id, Customer.erased_at.is_(None))
        if store_ids is not None:
            stmt = stmt.where(visible_customers(store_ids))
        customer = session.scalars(stmt).first()
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def record_or_404(model, record_id, *, store_ids=_CALLER, session=None):
    """A record that belongs to a store and/or leads to a customer (a complaint, a coupon, a
    call task...), or NotFound (404) when the caller's stores may not reach it: its `store_id`
    is not one of theirs, or its `customer_id` names a customer they do not see."""
    session = session or db.session
    if store_ids is _CALLER:
        store_ids = caller_store_ids()
    try:
        record = session.get(model, int(record_id)) if -2**63 <= int(record_id) < 2**63 else None
    except (TypeError, ValueError):
        record = None
    name = getattr(model, "__tablename__", model.__name__)
    if record is None:
        raise NotFound(f"{name} {record_id} not found")
    if store_ids is not None:
        store_id = getattr(record, "store_id", None)
        if store_id is not None and store_id not in store_ids:
            raise NotFound(f"{name} {record_id} not found")
        customer_id = getattr(record, "customer_id", None)
        if customer_id is not None:
            try:
                customer_or_404(customer_id, store_ids=store_ids, session=session)
            except NotFound:
                raise NotFound(f"{name} {record_id} not found") from None
    return record


def seen_by_store(session, customer_ids, store_id: int) -> set[int]:
    """Which of `customer_ids` `store_id` sees: one query for many."""
    return set(session.scalars(select(Customer.id).where(Customer.id.in_(customer_ids),
                                                          visible_customers([store_id])))) if customer_ids else set()


# Built once (core/models/prepared.py): a till serving a chain customer runs one on every sale.
LINK_COLUMNS = ("customer_id", "store_id", "via", "linked_at", "linked_by_user_id", "linked_by")
LINK_INSERT = Prepared(lambda dialect: insert_for(dialect, CustomerStoreLink.__table__)
                       .on_conflict_do_nothing(index_elements=["customer_id", "store_id"])
                       .returning(CustomerStoreLink.__table__.c.id))


def _link_unless_seen(dialect: str):
    """The link's INSERT of one row SELECTed only when the store does not see the customer yet:
    the question and the write in one statement."""
    table = CustomerStoreLink.__table__
    values = [bindparam(name, type_=table.c[name].type) for name in LINK_COLUMNS]
    seen = select(Customer.id).where(Customer.id == bindparam("customer_id", type_=table.c.customer_id.type),
                                     visible_customers(bindparam("store_ids", expanding=True)))
    # The SELECT has a WHERE: SQLite then reads the ON CONFLICT that follows as the upsert's.
    return (insert_for(dialect, table).from_select(LINK_COLUMNS, select(*values).where(~seen.exists()))
            .on_conflict_do_nothing(index_elements=["customer_id", "store_id"]).returning(table.c.id))


LINK_UNLESS_SEEN = Prepared(_link_unless_seen)


def link_customer(session, customer: Customer, store, *, via: str, user=None, actor: str = "system",
                  seen: bool | None = None) -> bool:
    """Link `customer` to `store` (they presented their full phone or member card there, or
    are served there): from now on the store sees them. Writes the link row and an audit
    entry (who linked whom, where, when) unless the store sees them already. Returns whether
    a link was made. The caller commits. `seen`: whether the store sees them, when the caller
    asked already (a batch asks for all its customers at once); None asks here."""
    if customer.id is None or customer.home_store_id == store.id or seen:
        return False
    from core.audit import audit_now

    row = {"customer_id": customer.id, "store_id": store.id, "via": via, "linked_at": utcnow(),
           "linked_by_user_id": getattr(user, "id", None), "linked_by": getattr(user, "username", None) or actor}
    if seen is None:
        linked = LINK_UNLESS_SEEN.execute(session, {**row, "store_ids": [store.id]}).first()
    else:
        linked = LINK_INSERT.execute(session, row).first()
    if linked is None:
        return False  # seen already, or another counter linked them at the same moment
    audit_now(session, "customer_linked", actor=user or actor, target=customer, store=store,
              details={"via": via, "store": store.code})
    return True
