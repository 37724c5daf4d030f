"""The body each subscriber receives: versioned, ids first, personal data masked by default.

`{"id": <event id>, "type": "sale.recorded", "version": 1, "occurred_at": ..., "store": "SH001",
"sandbox": false, "data": {...}}`. Money is a string, times ISO 8601 in UTC. A subscription with
`personal_data` (set by an owner, who may see it) gets phone, e-mail and name in clear;
otherwise phone and e-mail are masked and the name cut to its first character."""

from __future__ import annotations

import json
from decimal import Decimal

from core.models import Customer, Refund, Sale, Visit
from core.services.phones import mask_email, mask_phone
from core.webhooks.catalogue import webhook_type

VERSION = 1


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _money(value):
    return str(value) if value is not None else None


def customer_of(session, event) -> int | None:
    """The customer an event is about: the ordering key of its deliveries."""
    if event.subject_type == "customer" and event.name in ("customer_created", "customer_updated"):
        return event.subject_id
    if event.name == "sale_recorded":
        sale = session.get(Sale, event.subject_id)
        return sale.customer_id if sale else None
    if event.name == "sale_refunded":
        refund = session.get(Refund, event.subject_id)
        return refund.sale.customer_id if refund else None
    if event.name == "visit_recorded":
        visit = session.get(Visit, event.subject_id)
        return visit.customer_id if visit else None
    return (event.payload or {}).get("customer_id")


def _customer(customer: Customer, reveal: bool) -> dict:
    name = customer.name or ""
    return {
        "id": customer.id,
        "code": customer.code,
        "home_store": customer.home_store.code if customer.home_store else None,
        "name": name if reveal else (name[:1] + "*" if name else ""),
        "phone": customer.phone if reveal else mask_phone(customer.phone),
        "email": customer.email if reveal else mask_email(customer.email),
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
    }


def _sale(sale: Sale) -> dict:
    return {
        "id": sale.id,
        "store": sale.store.code,
        "external_id": sale.external_id,
        "customer_id": sale.customer_id,
        "occurred_at": _iso(sale.occurred_at),
        "channel": sale.channel,
        "status": sale.status,
        "subtotal": _money(sale.subtotal),
        "adjustment_total": _money(sale.adjustment_total),
        "total": _money(sale.total),
        "refunded_total": _money(sale.refunded_total),
        "lines": [{"sku": line.sku, "quantity": str(line.quantity), "amount": _money(line.amount)} for line in sale.lines],
    }


def event_data(session, event, reveal: bool) -> dict:
    """The `data` of an event's body."""
    name = event.name
    if name in ("customer_created", "customer_updated"):
        customer = session.get(Customer, event.subject_id)
        if customer is None or customer.erased_at is not None:
            return {"customer": {"id": event.subject_id}}
        data = {"customer": _customer(customer, reveal)}
        if name == "customer_updated":
            data["changed"] = sorted((event.payload or {}).get("changes") or {})
        return data
    if name == "sale_recorded":
        return {"sale": _sale(session.get(Sale, event.subject_id))}
    if name == "sale_refunded":
        refund = session.get(Refund, event.subject_id)
        return {"refund": {"id": refund.id, "sale_id": refund.sale_id, "amount": _money(refund.amount),
                           "created_at": _iso(refund.created_at)},
                "sale": {"id": refund.sale.id, "status": refund.sale.status, "customer_id": refund.sale.customer_id,
                         "total": _money(refund.sale.total), "refunded_total": _money(refund.sale.refunded_total)}}
    if name == "visit_recorded":
        visit = session.get(Visit, event.subject_id)
        return {"visit": {"id": visit.id, "store": visit.store.code, "customer_id": visit.customer_id,
                          "occurred_at": _iso(visit.occurred_at), "purchased": visit.purchased}}
    # customer.merged / customer.erased and plugins' events carry the data they were emitted with.
    return dict((event.payload or {}).get("data") or {})


def envelope(event, store, data: dict) -> dict:
    """`sandbox` is true for an event of a test store (docs/api.md, "Sandbox")."""
    return {"id": event.id, "type": webhook_type(event.name), "version": VERSION,
            "occurred_at": _iso(event.created_at), "store": store.code if store is not None else None,
            "sandbox": bool(store is not None and store.sandbox), "data": data}


def encode(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      default=lambda v: str(v) if isinstance(v, Decimal) else _iso(v))


def redacted(delivery) -> str:
    """What is sent for a delivery whose body was dropped by an erasure: ids only."""
    return encode({"id": delivery.event_id, "type": delivery.event_type, "version": VERSION, "redacted": True,
                   "data": {"customer_id": delivery.customer_id}})
