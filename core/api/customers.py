"""Customer endpoints: profiles, search, consents."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from core.access import customer_or_404, visible_customers
from core.api.fields import Id
from core.api.http import API_PREFIX, endpoint, keyset_page, principal, resolve_store
from core.api.schemas import ConsentChange, CustomerCreate, CustomerOut, CustomerPatch, CustomerQuery, ServeHereIn
from core.api.serialize import customer_dict
from core.audit import audit
from core.crypto import cipher
from core.errors import Conflict, Forbidden, InvalidInput
from core.extensions import db
from core.models import Customer, CustomerTag, Store
from core.services import customers as svc
from core.services.counter import chain_card, seen_ids
from core.services.counter import serve_here as serve_customer_here
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


def check_home_store(body: dict, current: Store | None = None) -> None:
    """A profile's (new) home store must be one the caller works in (403 otherwise)."""
    code = body.get("home_store")
    if code and code != getattr(current, "code", None):
        store = db.session.scalars(select(Store).where(Store.code == code)).first()
        if store is None:
            raise InvalidInput("unknown store", fields={"home_store": [f"Unknown store {code}."]})
        if not principal().can_act_in(store):
            raise Forbidden(f"you do not work in store {code}", fields={"home_store": [f"Not your store: {code}."]})


def chain_conflict(exc: Conflict) -> Conflict:
    """The 409 for a phone or card number the chain already has. The existing profile's id
    only for a caller who sees it; otherwise the way to serve the person here, never who it is."""
    existing = (exc.details or {}).get("existing_id")
    if existing is None or seen_ids(db.session, [existing], principal().store_ids()):
        return exc
    field = "phone" if "phone" in (exc.fields or {}) else "code"
    return Conflict("this person is already a customer of the chain: serve them here",
                    fields={field: ["Already a customer of the chain: serve them here."]},
                    details={"already_in_chain": True,
                             "serve_here": {"method": "POST", "path": f"{API_PREFIX}/customers/serve-here",
                                            "body": [field, "store"]}})


@endpoint(bp, "/customers", "POST", summary="Create a customer profile", body=CustomerCreate, response=CustomerOut,
          status=201, errors=(400, 401, 403, 409))
def create_customer(body):
    store = resolve_store(body.pop("store", None))
    check_home_store(body)
    who = principal()
    try:
        customer = svc.create_customer(db.session, store, body, user=who.user, actor=who.name)
    except Conflict as exc:
        raise chain_conflict(exc) from exc
    except IntegrityError as exc:
        # Two counters registering the same phone at once: the loser gets the winner's id.
        db.session.rollback()
        existing = svc.find_by_phone(db.session, body["phone"]) if body.get("phone") else None
        if existing is None:
            raise
        raise chain_conflict(Conflict("phone number already belongs to another customer",
                                      fields={"phone": ["Already in use."]},
                                      details={"existing_id": existing.id})) from exc
    reveal = reveal_and_audit(customer, "create")
    db.session.commit()
    return customer_dict(customer, reveal), 201


@endpoint(bp, "/customers", "GET",
          summary="Search customers: a full phone or card number finds any customer of the chain (linked=false, "
                  "masked, until served here); a name or other filters only the customers the caller's stores see",
          query=CustomerQuery, response=CustomerOut, many=True, paginated=True, errors=(400, 401))
def list_customers(args):
    who = principal()
    # The answer shows each customer's tags and home store: in the same statement as the page
    # (a counter lookup by phone is then one query for the customer and one for consents).
    stmt = select(Customer).options(joinedload(Customer.tag_rows), joinedload(Customer.home_store))
    # A sync (updated_since) also lists the customers erased since, as tombstones.
    since = args.get("updated_since")
    stmt = stmt.where(Customer.updated_at >= since) if since else stmt.where(Customer.erased_at.is_(None))
    ids = who.store_ids()
    if args.get("store"):
        ids = [resolve_store(args["store"]).id]
    # A full phone or card number is what the person presents at the counter: it finds any
    # customer of the chain. Everything else searches only what the caller's stores see.
    presented = bool(args.get("phone") or args.get("code"))
    if ids is not None and not presented:
        stmt = stmt.where(visible_filter(ids))
    if args.get("phone"):
        try:
            phone = normalise_phone(args["phone"])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, fields={"phone": exc.fields["phone"]}) from exc
        stmt = stmt.where(Customer.phone_hash.in_(cipher().lookup_hashes(phone)))
    if args.get("code"):
        stmt = stmt.where(Customer.code == args["code"].strip())
    if args.get("q"):
        term = args["q"].strip()
        stmt = stmt.where(or_(Customer.name.contains(term, autoescape=True), Customer.code == term))
    if args.get("tag"):
        stmt = stmt.where(exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == args["tag"]))
    for key in ("final_class", "lifecycle", "amount_class", "frequency_class", "rfm_segment"):
        if args.get(key):
            stmt = _class_filter(stmt, key, args[key], ids)
    rows, next_cursor = keyset_page(stmt, Customer.id, args.get("cursor"), args["limit"])
    seen = {c.id for c in rows}
    if presented and ids is not None:
        # Most lookups find a customer of the store's own: a query only for the others.
        others = [c.id for c in rows if c.home_store_id not in ids]
        seen -= set(others) - seen_ids(db.session, others, ids)
    reveal = bool(args.get("reveal")) and who.reveals_personal_data
    revealed = [c.id for c in rows if c.id in seen] if reveal else []
    if revealed:
        audit("unmask", actor=who.user, target=("customer_list", len(revealed)), details={"ids": revealed})
        db.session.commit()
    consents = svc.current_consents_of(db.session, list(seen))
    items = [tombstone(c) if c.erased_at is not None
             else {**customer_dict(c, reveal, consents.get(c.id, {})), "linked": True} if c.id in seen else chain_card(c)
             for c in rows]
    return {"items": items, "next_cursor": next_cursor}


@endpoint(bp, "/customers/serve-here", "POST",
          summary="Serve a customer of the chain here: the person presented their full phone or card number; "
                  "links them to the store (audited), which then sees them",
          body=ServeHereIn, response=CustomerOut, errors=(400, 401, 403, 404))
def serve_here(body):
    store = resolve_store(body.get("store"))
    who = principal()
    customer, _ = serve_customer_here(db.session, store, phone=body.get("phone"), code=body.get("code"),
                                      user=who.user, actor=who.name)
    reveal = reveal_and_audit(customer, "serve_here")
    db.session.commit()
    return {**customer_dict(customer, reveal), "linked": True}


def tombstone(customer: Customer) -> dict:
    """An erased customer in a sync: that it was erased, and when; nothing else is left."""
    return {"id": customer.id, "erased": True, "erased_at": customer.erased_at}


def _class_filter(stmt, key, value, store_ids):
    """Filter by a classification; the classification module registers how (issue: classes)."""
    from flask import current_app

    apply = current_app.extensions.get("storecrm.class_filters", {}).get(key)
    if apply is None:
        raise InvalidInput(f"filtering by {key} is not available", fields={key: ["Classification is not computed."]})
    return apply(stmt, value, store_ids)


def customer_state(customer_id: int) -> dict:
    """What the customer's ETag is computed from: the whole profile, unmasked (only its hash is
    sent, so every role sees the same ETag and a staff member's If-Match counts)."""
    return customer_dict(load_visible(customer_id), True)


@endpoint(bp, "/customers/<int:customer_id>", "GET", summary="Read a customer (masked per role)",
          response=CustomerOut, errors=(401, 404), etag=customer_state)
def get_customer(customer_id):
    customer = load_visible(customer_id)
    reveal = reveal_and_audit(customer, "read")
    db.session.commit()
    return customer_dict(customer, reveal)


@endpoint(bp, "/customers/<int:customer_id>", "PATCH", summary="Update a customer profile", body=CustomerPatch,
          response=CustomerOut, errors=(400, 401, 404, 409, 412), etag=customer_state)
def patch_customer(customer_id, body):
    customer = load_visible(customer_id)
    check_home_store(body, customer.home_store)
    who = principal()
    consents = body.pop("consents", None) or []
    try:
        svc.update_customer(db.session, customer, body, user=who.user, actor=who.name,
                            store=who.store or customer.home_store)
    except Conflict as exc:
        raise chain_conflict(exc) from exc
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
