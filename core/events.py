"""Events that lose nothing (docs/hooks.md, "Event hooks").

The core writes the change and its `Event` row in one transaction, with one `EventDelivery`
row per reaction (a transactional outbox). Two kinds of reaction consume it:

- a plugin's hook implementation marked `@in_transaction` runs inside that transaction because
  the till's answer or the next sale's check needs it at once: without a savepoint first (a
  till's sale, a batch's run of sales) and, should one raise, the sale is written again with
  each in its own savepoint, so its failure is recorded and the sale kept (see `optimistic`);
- every other reaction (plugins' unmarked hooks, and the core's own: the buyer's classes) is
  written `pending` and delivered after the commit by `core.delivery`, in batches, in order.

A reaction that raises leaves the change intact: its delivery is recorded as failed with the
error and retried later with backoff, once per (plugin, event), because the delivery is marked
done in the same transaction as the reaction's own writes.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql

from core.extensions import db
from core.models import Customer, Event, EventDelivery, Refund, Sale, Visit, utcnow
from core.models.prepared import Prepared
from core.plugins import HookContext, reaction_plugin
from core.webhooks.outbox import WEBHOOKS
from core.webhooks.outbox import wanted_for as webhooks_wanted

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
# The core's own reaction after the commit: a delivery row like a plugin's ("plugin" holds a
# name no plugin can have, plugin names being identifiers).
CLASSIFICATION = "core.classification"
# Webhooks (core.webhooks): written only for an event someone subscribed to (WEBHOOKS, imported below).
CORE_REACTIONS = frozenset({CLASSIFICATION, WEBHOOKS})
# session.info key: ids of events written in the open transaction that have reactions after the
# commit (core.delivery moves them on commit and delivers them).
PENDING_KEY = "storecrm.outbox.pending"
# session.info key: set while a caller that can write its change again runs the in-transaction
# reactions without savepoints (see `optimistic`).
OPTIMISTIC_KEY = "storecrm.reactions.optimistic"
# session.info key: the delivery rows collected by `deliveries_together`, written at its end.
DELIVERIES_KEY = "storecrm.outbox.deliveries"


class ReactionFailed(Exception):
    """An in-transaction reaction raised while running without its savepoint: the caller rolls
    back and writes the change again with savepoints, where the failure is recorded and retried
    (the change is never lost)."""

    def __init__(self, plugin: str, hook: str, exc: BaseException):
        super().__init__(f"{plugin} failed on {hook}: {exc}")
        self.plugin, self.hook, self.error = plugin, hook, exc


@contextlib.contextmanager
def optimistic(session, enabled: bool = True):
    """Within the block, `emit` runs in-transaction reactions without a savepoint each (two
    statements per plugin saved on every sale) and raises ReactionFailed when one fails. Only for
    a caller that can roll back and write the same change again, then without this block."""
    if not enabled:
        yield
        return
    session.info[OPTIMISTIC_KEY] = True
    try:
        yield
    finally:
        session.info.pop(OPTIMISTIC_KEY, None)


@contextlib.contextmanager
def deliveries_together(session):
    """Within the block, the deliveries of the events written are collected and written by one
    multi-row INSERT when it ends without an error (nothing reads them before the commit): a
    batch's run of sales. On PostgreSQL an event and its deliveries are one statement anyway."""
    if session.get_bind().dialect.name == "postgresql":
        yield
        return
    rows = session.info[DELIVERIES_KEY] = []
    try:
        yield
        if rows:
            DELIVERIES_INSERT.execute(session, rows)
    finally:
        session.info.pop(DELIVERIES_KEY, None)


def registry():
    return current_app.extensions["storecrm.plugins"]


def backoff(attempts: int) -> timedelta:
    return min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def emit(session, store, name: str, subject, hook_kwargs: dict, *, user=None, actor: str = "system",
         payload: dict | None = None, core_reactions: tuple[str, ...] = ()) -> Event:
    """Write the event row for `subject`, run the in-transaction reactions of the plugins
    enabled in `store`, and leave the others (and `core_reactions`) pending for after the commit.

    Called by the core services right after they write the change, before the commit. The
    event is a Core INSERT; its deliveries one multi-row INSERT after the reactions ran, with
    their outcomes. Under `optimistic` (a failure rolls everything back) the in-transaction
    deliveries are written done beforehand, and on PostgreSQL the event and all its deliveries
    are then one statement (an INSERT of the event inside the deliveries' INSERT ... SELECT)."""
    session.flush()  # the subject's own rows, if the caller left any pending
    if webhooks_wanted(store, name):
        core_reactions = (*core_reactions, WEBHOOKS)
    reg = registry()
    immediate, later = reg.reaction_kinds(name, reg.enabled_in(store))
    unguarded = session.info.get(OPTIMISTIC_KEY, False)
    now = utcnow()
    event = Event(
        store_id=store.id if store is not None else None,
        name=name,
        subject_type=type(subject).__name__.lower(),
        subject_id=subject.id,
        # Who caused it, for the reactions delivered later (their audit rows name the till).
        payload={**(payload or {}), "actor": actor} if actor and actor != "system" else (payload or {}),
        actor_user_id=getattr(user, "id", None),
        created_at=now,
    )
    pending = (*core_reactions, *later)
    if unguarded:
        # Written done now: should a reaction fail, the whole transaction is rolled back.
        insert_event(session, event, now, done=immediate, pending=pending)
        if immediate:
            ctx = HookContext(session=session, store=store, user=user, actor=actor, event_id=event.id, registry=reg)
            for plugin in immediate:
                run_unguarded(reg, plugin, name, ctx, hook_kwargs)
    else:
        insert_event(session, event, now)
        rows = []
        if immediate:
            ctx = HookContext(session=session, store=store, user=user, actor=actor, event_id=event.id, registry=reg)
            for plugin in immediate:
                delivery = EventDelivery(event_id=event.id, plugin=plugin, status="pending", attempts=0)
                attempt_reaction(session, reg, delivery, name, ctx, hook_kwargs)
                rows.append(delivery)
        insert_deliveries(session, event.id, [*rows, *_pending(pending, now)], now)
    if later or core_reactions:
        session.info.setdefault(PENDING_KEY, []).append(event.id)
    return event


def _delivery_row(d: EventDelivery, now) -> dict:
    return {"plugin": d.plugin, "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at, "updated_at": now}


def insert_event(session, event: Event, now, *, done=(), pending=()) -> None:
    """INSERT `event` (Core; its id set on it) with a delivery per plugin named: `done` (its
    reaction runs in this transaction) or `pending` (after the commit). On PostgreSQL one
    statement, elsewhere a second one for the deliveries."""
    values = {"e_store_id": event.store_id, "e_name": event.name, "e_subject_type": event.subject_type,
              "e_subject_id": event.subject_id, "e_payload": event.payload, "e_actor_user_id": event.actor_user_id,
              "e_created_at": event.created_at}
    if (done or pending) and session.get_bind().dialect.name == "postgresql":
        event.id = EVENT_WITH_DELIVERIES.execute(session, {
            **values, "d_plugins": [*done, *pending], "d_done": [True] * len(done) + [False] * len(pending),
            "d_now": now}).scalar()
        return
    event.id = EVENT_INSERT.execute(session, values).scalar_one()
    done_rows = [EventDelivery(plugin=plugin, status="done", attempts=1, delivered_at=now) for plugin in done]
    insert_deliveries(session, event.id, [*done_rows, *_pending(pending, now)], now)


def _pending(plugins, now) -> list[EventDelivery]:
    """Deliveries due after the commit, from now."""
    return [EventDelivery(plugin=plugin, status="pending", attempts=0, next_attempt_at=now) for plugin in plugins]


def insert_deliveries(session, event_id: int, deliveries: list[EventDelivery], now) -> None:
    """Every delivery with its outcome in one multi-row INSERT (Core, nothing to read back), or
    with those of the block's other events (`deliveries_together`)."""
    if deliveries:
        rows = [{"event_id": event_id, **_delivery_row(d, now)} for d in deliveries]
        collected = session.info.get(DELIVERIES_KEY)
        if collected is not None:
            collected.extend(rows)
        else:
            DELIVERIES_INSERT.execute(session, rows)


def _event_values():
    """The event's columns as bind parameters named `e_*` (no delivery column's name)."""
    table = Event.__table__
    return {name: sa.bindparam(f"e_{name}", type_=table.c[name].type)
            for name in ("store_id", "name", "subject_type", "subject_id", "payload", "actor_user_id", "created_at")}


def _event_with_deliveries(dialect: str):
    """PostgreSQL: the event INSERTed inside its deliveries' INSERT … SELECT, one statement; the
    deliveries come from two arrays (plugin names, and whether each is done already)."""
    events_table, table = Event.__table__, EventDelivery.__table__
    new_event = insert(events_table).values(_event_values()).returning(events_table.c.id).cte("new_event")
    each = sa.func.unnest(sa.bindparam("d_plugins", type_=postgresql.ARRAY(sa.String)),
                          sa.bindparam("d_done", type_=postgresql.ARRAY(sa.Boolean))
                          ).table_valued("plugin", "done").render_derived()
    now = sa.bindparam("d_now", type_=table.c.updated_at.type)
    done = each.c.done
    rows = select(new_event.c.id, each.c.plugin, sa.case((done, "done"), else_="pending"),
                  sa.case((done, 1), else_=0), sa.case((done, sa.null()), else_=now),
                  sa.case((done, now), else_=sa.null()), now).select_from(new_event.join(each, sa.true()))
    return (insert(table).from_select(["event_id", "plugin", "status", "attempts", "next_attempt_at",
                                       "delivered_at", "updated_at"], rows)
            .returning(table.c.event_id))


# Built once per database (core/models/prepared.py): every sale writes an event.
EVENT_INSERT = Prepared(lambda dialect: insert(Event.__table__).values(_event_values())
                        .returning(Event.__table__.c.id))
EVENT_WITH_DELIVERIES = Prepared(_event_with_deliveries)
DELIVERIES_INSERT = Prepared(lambda dialect: insert(EventDelivery.__table__))


def attempt_reaction(session, reg, delivery: EventDelivery, name: str, ctx: HookContext, hook_kwargs: dict) -> bool:
    """Run one plugin's reaction in a savepoint and record the outcome on `delivery`.

    The attempt is counted after the savepoint, with the outcome: the delivery's row is then
    written once per attempt (by the next flush), not once before and once after."""
    try:
        with session.begin_nested():
            reg.reaction_caller(name, delivery.plugin)(ctx=ctx.for_reaction(delivery.plugin), **hook_kwargs)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure must never lose the sale
        delivery.attempts += 1
        record_failure(delivery, exc)
        log.warning("plugin %s failed on %s (event %s): %s", delivery.plugin, name, delivery.event_id, exc)
        return False
    delivery.attempts += 1
    record_success(delivery)
    return True


def run_unguarded(reg, plugin: str, name: str, ctx: HookContext, hook_kwargs: dict) -> None:
    """Run one plugin's reaction with no savepoint; a failure becomes ReactionFailed."""
    try:
        reg.reaction_caller(name, plugin)(ctx=ctx.for_plugin(plugin), **hook_kwargs)
    except Exception as exc:  # noqa: BLE001 - the caller writes the change again, guarded
        raise ReactionFailed(plugin, name, exc) from exc


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


def hook_kwargs_for(session, event: Event, loaded: dict | None = None) -> dict:
    """Rebuild the hook's arguments from an event row, for a delivery after the commit or a
    retry. `loaded`: rows already loaded, by (model, id)."""
    def get(model, ident):
        found = (loaded or {}).get((model, ident))
        return found if found is not None else session.get(model, ident)

    if event.name == "sale_recorded":
        return {"sale": get(Sale, event.subject_id)}
    if event.name == "sale_refunded":
        refund = get(Refund, event.subject_id)
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
    # Two workers retrying the same delivery: the second skips it instead of doubling it
    # (SQLite: the locking read takes the write lock, core/app.py).
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
        from core.delivery import _then_send_webhooks

        _then_send_webhooks(session, {})
        return delivery.status
    reg = registry()
    from core.models import Store, User

    store = session.get(Store, event.store_id) if event.store_id else None
    if reaction_plugin(delivery.plugin) not in reg.enabled_in(store):
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
