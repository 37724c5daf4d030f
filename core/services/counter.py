"""The counter across the chain (domain.md, "Privacy and access"): the person presents their
full phone number or member card, which finds any customer of the chain; serving them here
links them to the store. Partial lookups (last digits, name) stay within what a store sees."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from core.access import link_customer, visible_customers
from core.errors import InvalidInput, NotFound
from core.models import Customer, Store
from core.services.customers import find_by_phone
from core.services.phones import mask_email, mask_phone

def find_presented(session, *, phone: str | None = None, code: str | None = None) -> Customer | None:
    """The chain's customer with this full phone (any accepted spelling) or card number."""
    if phone:
        return find_by_phone(session, phone)  # InvalidInput for a phone that is not one
    if code:
        return session.scalars(select(Customer).options(lazyload(Customer.tag_rows))
                               .where(Customer.code == code.strip(), Customer.erased_at.is_(None))).first()
    raise InvalidInput("give the full phone number or the card number", fields={"phone": ["Give phone or code."]})


def seen_ids(session, customer_ids, store_ids) -> set[int]:
    """Which of `customer_ids` the caller's stores see (one query)."""
    ids = list(customer_ids)
    if store_ids is None:
        return set(ids)
    if not ids:
        return set()
    return set(session.scalars(select(Customer.id).where(Customer.id.in_(ids), visible_customers(store_ids))))


def chain_card(customer: Customer) -> dict:
    """A customer of the chain this store does not see yet, after a full-phone or card lookup:
    enough to greet the person and serve them (masked), nothing of their profile."""
    return {"id": customer.id, "code": customer.code, "name": customer.name, "phone": mask_phone(customer.phone),
            "email": mask_email(customer.email), "address": None, "hobbies": [], "preferences": {}, "tags": [],
            "consents": [], "home_store": customer.home_store.code if customer.home_store else None,
            "linked": False}


def serve_here(session, store: Store, *, phone: str | None = None, code: str | None = None, user=None,
               actor: str = "system") -> tuple[Customer, bool]:
    """Link the customer who presented `phone` or `code` to `store`. Returns (customer, linked now).
    NotFound when the chain has no such customer. The caller commits."""
    customer = find_presented(session, phone=phone, code=code)
    if customer is None:
        raise NotFound("no customer of the chain has this phone number or card",
                       fields={"phone" if phone else "code": ["No customer of the chain."]})
    made = link_customer(session, customer, store, via="serve_here", user=user, actor=actor)
    return customer, made
