"""Events that lose nothing (architecture.md, "Events and delivery").

The core writes the change and its `Event` row in one transaction, with one `EventDelivery`
row per reaction (a transactional outbox). Two kinds of reaction consume it:

- a plugin's hook implementation marked `@in_transaction` runs inside that transaction, in its
  own savepoint, because the till's answer or the next sale's check needs it at once;
- every other reaction (plugins' unmarked hooks, and the core's own: the buyer's classes) is
  written `pending` and delivered after the commit by `core.delivery`, in batches, in order.

A reaction that raises leaves the change intact: its delivery is recorded as failed with the
error and retried later with backoff, once per (plugin, event), because the delivery is marked
done in the same transaction as the reaction's own writes.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select

from core.extensions import db
from core.models import Customer, Event, EventDelivery, Refund, Sale, Visit, utcnow
from core.plugins import HookContext

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
# The core's own reaction after the commit: a delivery row like a plugin's ("plugin" holds a
# name no plugin can have, plugin names being identifiers).
CLASSIFICATION = "core.classification"
CORE_REACTIONS = frozenset({CLASSIFICATION})
# session.info key: ids of events written in the open transaction that have reactions after the
# commit (core.delivery moves them on commit and delivers them).
PENDING_KEY = "storecrm.outbox.pending"


def registry():
    return current_app.extensions["storecrm.plugins"]


def backoff(attempts: int) -> timedelta:
    return min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def emit(session, store, name: str, subject, hook_kwargs: dict, *, user=None, actor: str = "system",
         payload: dict | None = None, core_reactions: tuple[str, ...] = ()) -> Event:
    """Write the event row for `subject`, run the in-transaction reactions of the plugins
    enabled in `store`, and leave the others (and `core_reactions`) pending for after the commit.

    Called by the core services right after they flush the change, before the commit."""
    event = Event(
        store_id=store.id if store is not None else None,
        name=name,
        subject_type=type(subject).__name__.lower(),
        subject_id=subject.id,
        # Who caused it, for the reactions delivered later (their audit rows name the till).
        payload={**(payload or {}), "actor": actor} if actor and actor != "system" else (payload or {}),
        actor_user_id=getattr(user, "id", None),
    )
    session.add(event)
    session.flush()
    reg = registry()
    immediate, later = reg.reaction_kinds(name, reg.enabled_in(store))
    rows = []
    if immediate:
        ctx = HookContext(session=session, store=store, user=user, actor=actor, event_id=event.id, registry=reg)
        for plugin in immediate:
            delivery = EventDelivery(event_id=event.id, plugin=plugin, status="pending", attempts=0)
            attempt_reaction(session, reg, delivery, name, ctx, hook_kwargs)
            rows.append(delivery)
    now = utcnow()
    rows.extend(EventDelivery(event_id=event.id, plugin=plugin, status="pending", attempts=0, next_attempt_at=now)
                for plugin in (*core_reactions, *later))
    if rows:
        # Once the in-transaction reactions have run: every delivery with its outcome in one
        # multi-row INSERT (Core, nothing to read back), not an INSERT + UPDATE each.
        session.execute(insert(EventDelivery.__table__), [
            {"event_id": d.event_id, "plugin": d.plugin, "status": d.status, "attempts": d.attempts,
             "last_error": d.last_error, "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
             "updated_at": now} for d in rows])
    if later or core_reactions:
        session.info.setdefault(PENDING_KEY, []).append(event.id)
    return event


def attempt_reaction(session, reg, delivery: EventDelivery, name: str, ctx: HookContext, hook_kwargs: dict) -> bool:
    """Run one plugin's reaction in a savepoint and record the outcome on `delivery`."""
    delivery.attempts += 1
    session.flush()
    try:
        with session.begin_nested():
            reg.caller_for(name, delivery.plugin)(ctx=ctx.for_plugin(delivery.plugin), **hook_kwargs)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure must never lose the sale
        record_failure(delivery, exc)
        log.warning("plugin %s failed on %s (event %s): %s", delivery.plugin, name, delivery.event_id, exc)
        return False
    record_success(delivery)
    return True


def record_success(delivery: EventDelivery) -> None:
    delivery.status = "done"
    delivery.delivered_at = utcnow()
    delivery.last_error = None
    delivery.next_attempt_at = None


def record_failure(delivery: EventDelivery, exc: BaseException) -> None:
    """Failed with the error, due again after the backoff; dead after MAX_ATTEMPTS."""
    delivery.status = "failed" if delivery.attempts < MAX_ATTEMPTS else "dead"
    delivery.last_error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))[-4000:]
    delivery.next_attempt_at = utcnow() + backoff(delivery.attempts) if delivery.status == "failed" else None


def hook_kwargs_for(session, event: Event) -> dict:
    """Rebuild the hook's arguments from an event row, for a retry."""
    if event.name == "sale_recorded":
        return {"sale": session.get(Sale, event.subject_id)}
    if event.name == "sale_refunded":
        refund = session.get(Refund, event.subject_id)
        return {"sale": refund.sale, "refund": refund}
    if event.name == "visit_recorded":
        return {"visit": session.get(Visit, event.subject_id)}
    if event.name == "customer_created":
        return {"customer": session.get(Customer, event.subject_id)}
    if event.name == "customer_updated":
        changes = {k: tuple(v) for k, v in (event.payload.get("changes") or {}).items()}
        return {"customer": session.get(Customer, event.subject_id), "changes": changes}
    raise ValueError(f"event {event.id} ({event.name}) cannot be replayed")


def retry_delivery(delivery_id: int, *, force: bool = True) -> str:
    """Retry one delivery now, in its own transaction. Returns its new status.

    With `force=False` only a failed delivery that is due is retried (the periodic job)."""
    session = db.session
    query = select(EventDelivery).where(EventDelivery.id == delivery_id)
    if db.engine.dialect.name == "postgresql":
        # Two workers retrying the same delivery: the second skips it instead of doubling it.
        query = query.with_for_update(skip_locked=True)
    delivery = session.scalars(query).first()
    if delivery is None:
        session.rollback()
        return "locked"
    if delivery.status == "done" or (not force and (delivery.status != "failed" or delivery.next_attempt_at > utcnow())):
        session.rollback()
        return delivery.status
    event = delivery.event
    if delivery.plugin in CORE_REACTIONS:
        from core.delivery import run_batch

        if delivery.status == "dead":
            delivery.status = "failed"
        run_batch(session, [delivery])
        session.commit()
        return delivery.status
    reg = registry()
    from core.models import Store, User

    store = session.get(Store, event.store_id) if event.store_id else None
    if delivery.plugin not in reg.enabled_in(store):
        session.rollback()
        return "disabled"
    user = session.get(User, event.actor_user_id) if event.actor_user_id else None
    ctx = HookContext(session=session, store=store, user=user, event_id=event.id, registry=reg,
                      actor="retry")
    if delivery.status == "dead":
        delivery.status = "failed"
    attempt_reaction(session, reg, delivery, event.name, ctx, hook_kwargs_for(session, event))
    session.commit()
    return delivery.status


def retry_due_deliveries(limit: int = 200) -> dict:
    """Periodic job: retry failed deliveries whose backoff has passed. Returns counts."""
    ids = db.session.scalars(
        select(EventDelivery.id)
        .where(EventDelivery.status == "failed", EventDelivery.next_attempt_at <= utcnow())
        .order_by(EventDelivery.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    counts: dict[str, int] = {}
    for delivery_id in ids:
        status = retry_delivery(delivery_id, force=False)
        counts[status] = counts.get(status, 0) + 1
    return counts
