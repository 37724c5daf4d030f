"""Customer endpoints: profiles, search, consents."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.access import customer_or_404, visible_customers
from core.api.fields import Id
from core.api.http import endpoint, keyset_page, principal, resolve_store
from core.api.schemas import ConsentChange, CustomerCreate, CustomerOut, CustomerPatch, CustomerQuery
from core.api.serialize import customer_dict
from core.audit import audit
from core.crypto import cipher
from core.errors import Conflict, InvalidInput, NotFound
from core.extensions import db
from core.models import Customer, CustomerTag, Sale, Visit
from core.services import customers as svc
from core.services.phones import normalise_phone

bp = Blueprint("customers", __name__)
bp.storecrm_tag = "customers"


def visible_filter(store_ids):
    """Kept for older imports: `core.access.visible_customers`."""
    return visible_customers(store_ids)


def load_visible(customer_id: int) -> Customer:
    """The customer, or 404 when it is outside the caller's stores (`core.access.customer_or_404`)."""
    return customer_or_404(customer_id)


def reveal_and_audit(customer: Customer, reason: str) -> bool:
    who = principal()
    if who.reveals_personal_data:
        audit("unmask", actor=who.user, target=customer, details={"via": reason})
        return True
    return False


@endpoint(bp, "/customers", "POST", summary="Create a customer profile", body=CustomerCreate, response=CustomerOut,
          status=201, errors=(400, 401, 403, 409))
def create_customer(body):
    store = resolve_store(body.pop("store", None))
    who = principal()
    try:
        customer = svc.create_customer(db.session, store, body, user=who.user, actor=who.name)
    except IntegrityError as exc:
        # Two counters registering the same phone at once: the loser gets the winner's id.
        db.session.rollback()
        existing = svc.find_by_phone(db.session, body["phone"]) if body.get("phone") else None
        if existing is None:
            raise
        raise Conflict("phone number already belongs to another customer", fields={"phone": ["Already in use."]},
                       details={"existing_id": existing.id}) from exc
    reveal = reveal_and_audit(customer, "create")
    db.session.commit()
    return customer_dict(customer, reveal), 201


@endpoint(bp, "/customers", "GET", summary="Search customers", query=CustomerQuery, response=CustomerOut, many=True,
          paginated=True, errors=(400, 401))
def list_customers(args):
    who = principal()
    # The answer shows each customer's tags and home store: in the same statement as the page
    # (a counter lookup by phone is then one query for the customer and one for consents).
    stmt = (select(Customer).options(joinedload(Customer.tag_rows), joinedload(Customer.home_store))
            .where(Customer.erased_at.is_(None)))
    ids = who.store_ids()
    if args.get("store"):
        ids = [resolve_store(args["store"]).id]
    if ids is not None:
        stmt = stmt.where(visible_filter(ids))
    if args.get("phone"):
        try:
            phone = normalise_phone(args["phone"])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, fields={"phone": exc.fields["phone"]}) from exc
        stmt = stmt.where(Customer.phone_hash.in_(cipher().lookup_hashes(phone)))
    if args.get("q"):
        term = args["q"].strip()
        stmt = stmt.where(or_(Customer.name.contains(term, autoescape=True), Customer.code == term))
    if args.get("tag"):
        stmt = stmt.where(exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == args["tag"]))
    for key in ("final_class", "lifecycle", "amount_class", "frequency_class", "rfm_segment"):
        if args.get(key):
            stmt = _class_filter(stmt, key, args[key], ids)
    rows, next_cursor = keyset_page(stmt, Customer.id, args.get("cursor"), args["limit"])
    reveal = bool(args.get("reveal")) and who.reveals_personal_data
    if reveal and rows:
        audit("unmask", actor=who.user, target=("customer_list", len(rows)), details={"ids": [c.id for c in rows]})
        db.session.commit()
    consents = svc.current_consents_of(db.session, [c.id for c in rows])
    return {"items": [customer_dict(c, reveal, consents.get(c.id, {})) for c in rows], "next_cursor": next_cursor}


def _class_filter(stmt, key, value, store_ids):
    """Filter by a classification; the classification module registers how (issue: classes)."""
    from flask import current_app

    apply = current_app.extensions.get("storecrm.class_filters", {}).get(key)
    if apply is None:
        raise InvalidInput(f"filtering by {key} is not available", fields={key: ["Classification is not computed."]})
    return apply(stmt, value, store_ids)


@endpoint(bp, "/customers/<int:customer_id>", "GET", summary="Read a customer (masked per role)",
          response=CustomerOut, errors=(401, 404))
def get_customer(customer_id):
    customer = load_visible(customer_id)
    reveal = reveal_and_audit(customer, "read")
    db.session.commit()
    return customer_dict(customer, reveal)


@endpoint(bp, "/customers/<int:customer_id>", "PATCH", summary="Update a customer profile", body=CustomerPatch,
          response=CustomerOut, errors=(400, 401, 404, 409))
def patch_customer(customer_id, body):
    customer = load_visible(customer_id)
    who = principal()
    consents = body.pop("consents", None) or []
    svc.update_customer(db.session, customer, body, user=who.user, actor=who.name,
                        store=who.store or customer.home_store)
    for consent in consents:
        svc.set_consent(db.session, customer, consent["channel"], consent["granted"], source=consent["source"],
                        proof=consent.get("proof"), user=who.user, store=who.store)
    reveal = reveal_and_audit(customer, "update")
    db.session.commit()
    return customer_dict(customer, reveal)


@endpoint(bp, "/customers/<int:customer_id>/consents", "POST", summary="Grant or withdraw a channel's marketing consent",
          body=ConsentChange, response=CustomerOut, status=201, errors=(400, 401, 404))
def change_consent(customer_id, body):
    customer = load_visible(customer_id)
    who = principal()
    svc.set_consent(db.session, customer, body["channel"], body["granted"], source=body["source"],
                    proof=body.get("proof"), user=who.user, store=who.store)
    db.session.commit()
    return customer_dict(customer, who.reveals_personal_data), 201


# --- duplicates and merging (rules in core/merge.py) ------------------------------------------

from marshmallow import fields as _f  # noqa: E402

from core.api.schemas import Strict as _Strict  # noqa: E402


class MergeIn(_Strict):
    merge_id = Id(required=True, metadata={"description": "the profile folded into this one, then removed"})


class MergeOut(_Strict):
    kept = _f.Nested(CustomerOut)
    merged_id = _f.Integer()
    moved = _f.Dict(keys=_f.String(), values=_f.Integer(), metadata={"description": "rows moved, per table"})


class DuplicateOut(_Strict):
    ids = _f.List(_f.Integer())
    reasons = _f.List(_f.String())


@endpoint(bp, "/customers/duplicates", "GET", summary="Likely duplicate profiles (same phone, email, or name and birthday)",
          response=DuplicateOut, many=True, role="manager", errors=(401, 403))
def list_duplicates():
    from core.merge import find_duplicates

    ids = principal().store_ids()
    pairs = find_duplicates(db.session)
    if ids is not None:
        visible = set(db.session.scalars(select(Customer.id).where(
            Customer.id.in_({i for p in pairs for i in p["ids"]}), visible_filter(ids))))
        pairs = [p for p in pairs if set(p["ids"]) <= visible]
    return pairs


@endpoint(bp, "/customers/<int:customer_id>/merge", "POST",
          summary="Merge another profile into this one: sales, visits, timeline, consents, tags and every plugin's records move; the other is removed",
          body=MergeIn, response=MergeOut, role="manager", errors=(400, 401, 403, 404))
def merge_customer(customer_id, body):
    from core.merge import merge_customers

    kept = load_visible(customer_id)
    merged = load_visible(body["merge_id"])
    who = principal()
    result = merge_customers(db.session, kept, merged, user=who.user, actor=who.name)
    reveal = reveal_and_audit(kept, "merge")
    db.session.commit()
    return {"kept": customer_dict(kept, reveal), "merged_id": result["merged"], "moved": result["moved"]}
