"""Webhooks ride the core's outbox (core.events, core.delivery): an event in a store someone
subscribed to gets one more reaction after the commit, `core.webhooks`, which writes one
`WebhookDelivery` per matching subscription with its body; `core.webhooks.sender` sends them."""

from __future__ import annotations

from sqlalchemy import insert, select

from core.models import Event, EventDelivery, Store, WebhookDelivery, WebhookSubscription, utcnow
from core.webhooks import payloads
from core.webhooks.catalogue import event_types, webhook_type
from core.webhooks.routing import sandbox_delivery_rule, wanted

WEBHOOKS = "core.webhooks"  # the reaction's name in event_delivery.plugin (no plugin can have a dot)
FANNED_KEY = "storecrm.webhooks.fanned"  # session.info: deliveries were written; send after the commit


def wanted_for(store, event_name: str) -> bool:
    """Whether a core event in `store` has a subscriber (no query: see core.webhooks.routing)."""
    store_id = store.id if store is not None and not isinstance(store, int) else store
    return wanted(store_id, webhook_type(event_name))


def emit_event(session, store, kind: str, data: dict | None = None, *, customer_id: int | None = None) -> Event | None:
    """Emit webhook event `kind` (a type the core or a plugin declared, e.g.
    "membership.tier_changed") in the caller's transaction: sent after the commit to the
    subscribers of `kind` in `store` (a Store, its id, or None) and chain-wide. `data` holds
    ids and facts, never personal data; `customer_id` orders it with that customer's other
    events. Costs nothing when nobody subscribed. Returns the event row, or None."""
    if kind not in event_types():
        raise ValueError(f"unknown webhook event type {kind!r}: declare it in webhook_event_types")
    store_id = store.id if store is not None and not isinstance(store, int) else store
    if not wanted(store_id, kind):
        return None
    from core.events import PENDING_KEY

    event = Event(store_id=store_id, name=kind, subject_type="customer" if customer_id else "webhook",
                  subject_id=customer_id or 0, payload={"data": data or {}, "customer_id": customer_id})
    session.add(event)
    session.flush()
    session.add(EventDelivery(event_id=event.id, plugin=WEBHOOKS, status="pending", attempts=0, next_attempt_at=utcnow()))
    session.info.setdefault(PENDING_KEY, []).append(event.id)
    return event


def fan_out(session, deliveries: list[EventDelivery]) -> None:
    """The `core.webhooks` reaction of a batch: one WebhookDelivery per (event, matching
    subscription), in event order, in the batch's transaction (a savepoint); the reactions are
    marked done with them, or failed together."""
    from core import events

    subscriptions = session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))).all()
    rows = []
    now = utcnow()
    try:
        with session.begin_nested():
            for delivery in sorted(deliveries, key=lambda d: d.event_id):
                event = delivery.event
                kind = webhook_type(event.name)
                store = session.get(Store, event.store_id) if event.store_id else None
                matching = [s for s in subscriptions
                            if kind in (s.event_types or []) and sandbox_delivery_rule(s.store_id, store)]
                if not matching:
                    continue
                customer_id = payloads.customer_of(session, event)
                bodies = {}
                for subscription in matching:
                    reveal = bool(subscription.personal_data)
                    if reveal not in bodies:
                        data = payloads.event_data(session, event, reveal)
                        bodies[reveal] = payloads.encode(payloads.envelope(event, store, data))
                    rows.append({"subscription_id": subscription.id, "event_id": event.id, "event_type": kind,
                                 "customer_id": customer_id, "body": bodies[reveal], "status": "pending",
                                 "attempts": 0, "next_attempt_at": now, "window_started_at": now,
                                 "created_at": now, "updated_at": now})
            if rows:
                session.execute(insert(WebhookDelivery.__table__), rows)
    except Exception as exc:  # noqa: BLE001 - recorded and retried like any reaction
        for delivery in deliveries:
            delivery.attempts += 1
            events.record_failure(delivery, exc)
        return
    for delivery in deliveries:
        delivery.attempts += 1
        events.record_success(delivery)
    if rows:
        session.info[FANNED_KEY] = True
