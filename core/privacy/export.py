"""Everything stored about one person, as JSON (PIPL art. 45: the right to a copy)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from core.audit import audit
from core.models import Activity, Consent, Customer, Sale, Visit, utcnow
from core.plugins import HookContext
from core.privacy.models import PrivacyRequest

EXPORT_FORMAT = "storecrm.customer-export/1"


def profile(customer: Customer) -> dict:
    """The full, unmasked profile."""
    from core.api.serialize import profile_dict

    return profile_dict(customer, reveal=True)


def export_customer(session, customer: Customer, *, user=None, actor: str = "system") -> dict:
    """The person's whole record, every installed plugin's part included; the export is audited."""
    from core.api.serialize import sale_dict

    sales = session.scalars(select(Sale).where(Sale.customer_id == customer.id).order_by(Sale.occurred_at, Sale.id))
    visits = session.scalars(select(Visit).where(Visit.customer_id == customer.id).order_by(Visit.occurred_at, Visit.id))
    activities = session.scalars(
        select(Activity).where(Activity.customer_id == customer.id).order_by(Activity.occurred_at, Activity.id))
    consents = session.scalars(select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.id))
    requests = session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.customer_id == customer.id).order_by(PrivacyRequest.id))
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow(),
        "profile": profile(customer),
        "consents": [
            {"channel": c.channel, "purpose": c.purpose, "granted": c.granted, "source": c.source, "proof": c.proof,
             "at": c.at}
            for c in consents
        ],
        "sales": [sale_dict(s) for s in sales],
        "visits": [
            {"id": v.id, "store": v.store.code if v.store else None, "occurred_at": v.occurred_at,
             "purpose": v.purpose, "notes": v.notes}
            for v in visits
        ],
        "activities": [
            {"kind": a.kind, "source": a.source, "title": a.title, "body": a.body, "data": a.data or {},
             "occurred_at": a.occurred_at}
            for a in activities
        ],
        "privacy_requests": [
            {"kind": r.kind, "status": r.status, "received_at": r.received_at, "due_at": r.due_at,
             "closed_at": r.closed_at}
            for r in requests
        ],
        "other": other_core_rows(session, customer.id),
        "plugins": plugin_parts(session, customer, user=user, actor=actor),
    }
    audit("export", actor=user or actor, target=customer, store=customer.home_store_id, session=session,
          details={"plugins": sorted(document["plugins"])})
    return jsonable(document)


# Exported above in their own shape; any other core table about the person is exported as rows.
_SHAPED = {"customer", "customer_tag", "consent", "sale", "visit", "activity", "privacy_request"}


def other_core_rows(session, customer_id: int) -> dict:
    """Rows of every other core table with a foreign key to the person (e.g. their classes)."""
    from core.extensions import db
    from core.migrate import table_owner

    found = {}
    for table in db.metadata.sorted_tables:
        if table.name in _SHAPED or table_owner(table.name, current_app) != "core":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "customer":
                rows = session.execute(select(table).where(fk.parent == customer_id)).mappings().all()
                if rows:
                    found[table.name] = [dict(r) for r in rows]
    return found


def plugin_parts(session, customer: Customer, *, user=None, actor: str = "system") -> dict:
    """`customer_export` of every installed plugin, enabled in a store or not: a plugin switched
    off still holds what it stored while it was on."""
    from core.migrate import plugins_with_tables

    reg = current_app.extensions["storecrm.plugins"]
    ctx = HookContext(session=session, store=customer.home_store, user=user, actor=actor, registry=reg)
    return reg.collect("customer_export", plugins_with_tables(current_app, session, list(reg.manifests)), ctx,
                       customer=customer)


def jsonable(value):
    """Plain JSON types: times as ISO 8601 (UTC), money as strings, as the API writes them."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
