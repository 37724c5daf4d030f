"""What the customer page reads: who may see whom, the timeline, consents. Plain functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.access import visible_customers
from core.models import Activity, Consent, Customer, Sale, Store, User, Visit


def customer_scope(store_ids: list[int] | None):
    """A WHERE clause for the customers `store_ids` see (`core.access.visible_customers`);
    None means the whole chain. Erased profiles never show."""
    alive = Customer.erased_at.is_(None)
    if store_ids is None:
        return alive
    return alive & visible_customers(store_ids)


@dataclass
class Entry:
    kind: str  # sale, refund, visit, or an activity's kind (note, call, class_change...)
    at: datetime
    store: Store | None
    title: str
    body: str | None = None
    amount: object = None
    staff: str | None = None
    lines: list | None = None


def timeline(session, customer: Customer, *, limit: int = 60, ctx=None) -> list[Entry]:
    """The newest sales, visits and activities of `customer`, newest first, merged; with a hook
    context `ctx`, each plugin's activities worded by the plugin (`activity_texts`)."""
    stores = {s.id: s for s in session.scalars(select(Store))}
    staff = dict(session.execute(select(User.id, User.display_name)).all())
    entries: list[Entry] = []
    sales = session.scalars(
        select(Sale).where(Sale.customer_id == customer.id).order_by(Sale.occurred_at.desc()).limit(limit)
        .options(selectinload(Sale.lines), selectinload(Sale.refunds))
    )
    for sale in sales:
        entries.append(Entry("sale", sale.occurred_at, stores.get(sale.store_id), sale.status, amount=sale.total,
                             staff=staff.get(sale.staff_id), body=sale.note,
                             lines=[(line.name or line.sku, line.quantity, line.net_amount) for line in sale.lines]))
        for refund in sale.refunds:
            entries.append(Entry("refund", refund.created_at, stores.get(sale.store_id), refund.reason,
                                 amount=-refund.amount, staff=staff.get(refund.actor_user_id)))
    for visit in session.scalars(select(Visit).where(Visit.customer_id == customer.id)
                                 .order_by(Visit.occurred_at.desc()).limit(limit)):
        entries.append(Entry("visit", visit.occurred_at, stores.get(visit.store_id), visit.purpose or "",
                             body=visit.notes, staff=staff.get(visit.staff_id)))
    activities = list(session.scalars(select(Activity).where(Activity.customer_id == customer.id)
                                      .order_by(Activity.occurred_at.desc()).limit(limit)))
    texts = activity_texts(activities, ctx) if ctx is not None else {}
    for act in activities:
        title, body = texts.get(act.id, (act.title, act.body))
        entries.append(Entry(act.kind, act.occurred_at, stores.get(act.store_id), title, body=body,
                             staff=staff.get(act.actor_user_id)))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def activity_texts(activities: list[Activity], ctx) -> dict[int, tuple[str, str | None]]:
    """(title, body) of the activities their plugin words itself, in the current language
    (the `timeline_text` hook), by activity id. A plugin words only its own entries; one that
    fails leaves them as stored (logged): a broken module must not hide the customer."""
    reg = ctx.registry
    own: dict[str, dict[int, Activity]] = {}
    for act in activities:
        if act.source in reg.manifests:
            own.setdefault(act.source, {})[act.id] = act
    texts: dict[int, tuple[str, str | None]] = {}
    for name in reg.implementers("timeline_text", own):
        for answer in reg.call_guarded("timeline_text", name, ctx, activities=list(own[name].values())):
            for act_id, text in (answer or {}).items():
                if act_id in own[name]:
                    texts[act_id] = (str(text.get("title") or own[name][act_id].title), text.get("body"))
    return texts


def consent_rows(session, customer_id: int) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id.desc())))
