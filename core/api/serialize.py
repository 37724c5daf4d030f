"""Model → API dict, with personal data masked unless the caller may see it."""

from __future__ import annotations

from datetime import date

from flask import current_app

from core.plugins import HookContext
from core.services.customers import current_consents
from core.services.phones import mask_email, mask_phone
from core.extensions import db


def profile_dict(customer, reveal: bool) -> dict:
    """The profile's fields; phone, email and address masked unless `reveal`."""
    return {
        "id": customer.id,
        "code": customer.code,
        "name": customer.name,
        "gender": customer.gender,
        "birthday": customer.birthday,
        "age": customer.age(date.today()),
        "phone": customer.phone if reveal else mask_phone(customer.phone),
        "email": customer.email if reveal else mask_email(customer.email),
        "address": customer.address if reveal else (None if not customer.address else "***"),
        "wechat_id": customer.wechat_id,
        "occupation": customer.occupation,
        "household": customer.household,
        "personality": customer.personality,
        "hobbies": customer.hobbies or [],
        "needs": customer.needs,
        "notes": customer.notes,
        "preferences": customer.preferences or {},
        "tags": customer.tags,
        "source_channel": customer.source_channel,
        "home_store": customer.home_store.code if customer.home_store else None,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def customer_dict(customer, reveal: bool, consents: dict | None = None) -> dict:
    """`consents`: the customer's standing consents when the caller loaded a page's at once."""
    if consents is None:
        consents = current_consents(db.session, customer.id)
    return {
        **profile_dict(customer, reveal),
        "consents": [
            {"channel": c.channel, "purpose": c.purpose, "granted": c.granted, "source": c.source, "at": c.at}
            for c in sorted(consents.values(), key=lambda c: c.channel)
        ],
    }


def sale_dict(sale) -> dict:
    return {
        "id": sale.id,
        "store": sale.store.code,
        "external_id": sale.external_id,
        "occurred_at": sale.occurred_at,
        "customer_id": sale.customer_id,
        "staff": sale.staff.username if sale.staff else None,
        "channel": sale.channel,
        "status": sale.status,
        "lines": [
            {"id": l.id, "sku": l.sku, "name": l.name, "quantity": l.quantity, "unit_price": l.unit_price, "discount": l.discount,
             "amount": l.amount, "refunded_quantity": l.refunded_quantity}
            for l in sale.lines
        ],
        "adjustments": [
            {"source": a.source, "code": a.code, "label": a.label, "amount": a.amount, "data": a.data or {}}
            for a in sale.adjustments
        ],
        "payments": [{"method": p.method, "amount": p.amount} for p in sale.payments],
        "subtotal": sale.subtotal,
        "adjustment_total": sale.adjustment_total,
        "total": sale.total,
        "refunded_total": sale.refunded_total,
        "updated_at": sale.updated_at,
    }


def sale_effects(sale, user=None, actor="system") -> dict:
    """`sale_result` of every plugin enabled in the sale's store, keyed by plugin. A plugin
    whose delivery failed says so instead of breaking the till's answer."""
    reg = current_app.extensions["storecrm.plugins"]
    ctx = HookContext(session=db.session, store=sale.store, user=user, actor=actor, registry=reg)
    effects = {}
    for name in reg.implementers("sale_result", reg.enabled_in(sale.store)):
        try:
            values = reg.caller_for("sale_result", name)(sale=sale, ctx=ctx.for_plugin(name))
        except Exception as exc:  # noqa: BLE001
            current_app.logger.warning("sale_result of %s failed for sale %s: %s", name, sale.id, exc)
            # The sale is committed; a database error must not poison the next plugin's reads.
            db.session.rollback()
            values = [{"error": "not available; the delivery will be retried"}]
        if values:
            effects[name] = values[0]
    return effects
