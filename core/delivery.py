"""Reactions after the commit (docs/hooks.md, "Event hooks"): the outbox's consumer.

`core.events.emit` writes a `pending` EventDelivery for every reaction that is not marked
`@in_transaction`, in the same transaction as the change. Once that transaction commits:

- without Redis, the committing process delivers them right away, in a session of its own: a
  serving process hands them to its background thread (`BackgroundDelivery`), so the till's
  answer does not wait for them; any other (a CLI command, a test) delivers them before going on;
- with Redis, the committing process only makes sure a `drain_outbox` job is queued (one
  Redis SET per commit); an rq worker drains every pending delivery in batches, oldest event
  first, one drainer at a time (a Redis lock), so a customer's reactions run in order.

A periodic sweep (`sweep_outbox`) delivers what a process that died between its commit and
the delivery left pending, so nothing is lost. Each batch is one transaction; each reaction
runs in its own savepoint and its delivery is marked done (or failed, with the error, due again
after a backoff) together with the reaction's writes: idempotent per (plugin, event). The
core's own reaction (the buyer's classes) runs once per customer and store per batch.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from core import events
from core.extensions import db
from core.models import EventDelivery, Refund, Sale, Store, User, utcnow
from core.plugins import HookContext, reaction_plugin

log = logging.getLogger(__name__)

BATCH_SIZE = 200
SWEEP_AGE = timedelta(seconds=10)  # pending this long: its process did not deliver it
DRAIN_SCHEDULED_KEY = "storecrm:outbox:drain-scheduled:{queue}"
DRAIN_LOCK_KEY = "storecrm:outbox:drain-lock:{queue}"
BACKGROUND_KEY = "storecrm.outbox_background"
# The drain lock expires this long after its holder stops renewing it (a killed work-horse):
# the next drain, or the periodic sweep, then takes over.
DRAIN_LOCK_TTL = 60


# --- after each commit ---------------------------------------------------------------------------

def _after_commit(session) -> None:
    # SQLAlchemy fires after_commit on a savepoint's release too (every in-transaction reaction
    # runs in one): the outer transaction still holds the writer, so delivering now would wait
    # for it on another connection (30 s, then "database is locked"). Wait for the real commit.
    if session.get_nested_transaction() is not None:
        return
    event_ids = session.info.pop(events.PENDING_KEY, None)
    if event_ids:
        deliver_committed(event_ids)


def _dropped_on_rollback(session, transaction) -> None:
    # The outermost transaction ended without a commit (after a commit the list is already gone):
    # its events do not exist. Event ids of a rolled-back savepoint may stay listed; they have
    # no delivery rows, so delivering them finds nothing.
    if transaction.parent is None:
        session.info.pop(events.PENDING_KEY, None)


def init_delivery(app) -> None:
    """Listen to the commits of `db.session` (once per process: it is shared by every app)."""
    if not sa_event.contains(db.session, "after_commit", _after_commit):
        sa_event.listen(db.session, "after_commit", _after_commit)
        sa_event.listen(db.session, "after_transaction_end", _dropped_on_rollback)


def deliver_committed(event_ids: list[int]) -> None:
    """Right after the commit that wrote `event_ids`: with Redis, make sure a worker drains the
    outbox; without, deliver their reactions now, in this process. The committing session cannot
    run SQL any more, so this runs in a fresh app context (its own session and `g`). Never
    raises: the change is committed, and what is not delivered here the sweep delivers."""
    from flask import current_app

    try:
        app = current_app._get_current_object()
        queue = app.extensions["storecrm.jobs"]
        if queue.uses_redis:
            schedule_drain(queue)
            return
        background = app.extensions.get(BACKGROUND_KEY)
        if background is not None:
            background.wake()
            return
        with app.app_context():
            deliver(event_ids=event_ids)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("delivering the reactions of events %s failed; they stay pending", event_ids[:10])


# --- without Redis, serving: a thread of the process delivers ------------------------------------------

class BackgroundDelivery:
    """Without Redis, in a serving process: one thread of the app's delivers the reactions after
    the commit, so a till's answer does not wait for them. Each commit wakes it; it delivers
    every pending reaction in batches until none is left, then sleeps. Under load one batch
    carries the reactions of many sales, which is where a busy store saves (a roll-up per store
    and day, a class update per customer, once per batch). At exit it delivers what is left; what a
    killed process leaves pending, the periodic sweep delivers."""

    def __init__(self, app):
        self.app = app
        self._wake = threading.Event()
        self._stopping = False
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def start_for(cls, app) -> "BackgroundDelivery":
        """Start the thread of `app` (once) and route its commits' reactions to it."""
        background = app.extensions.get(BACKGROUND_KEY)
        if background is None:
            background = app.extensions[BACKGROUND_KEY] = cls(app)
            background._thread = threading.Thread(target=background._run, name="storecrm-outbox", daemon=True)
            background._thread.start()
            atexit.register(background.stop)
        return background

    def wake(self) -> None:
        with self._lock:
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every reaction woken so far is delivered (tests, shutdown)."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 30) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.app.extensions.pop(BACKGROUND_KEY, None)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                with self.app.app_context():
                    deliver()
            except Exception:  # noqa: BLE001 - the thread must live on; the sweep retries
                log.exception("delivering reactions in the background failed; they stay pending")
            with self._lock:
                if not self._wake.is_set():  # no commit came in while it delivered
                    self._idle.set()
            if self._stopping:
                return


# --- with Redis: one drainer at a time, woken by commits ---------------------------------------------

def schedule_drain(queue) -> None:
    """Make sure a `drain_outbox` job is queued: one Redis SET when one is already waiting."""
    from redis.exceptions import ConnectionError, TimeoutError

    try:
        key = DRAIN_SCHEDULED_KEY.format(queue=queue.queue_name)
        # The flag expires: a queued job that is lost cannot silence the outbox for long.
        if queue.connection().set(key, "1", nx=True, ex=60):
            from core.jobs import func_path

            queue.push(func_path(drain_outbox), (), {}, None)
    except (ConnectionError, TimeoutError) as exc:
        log.warning("Redis unreachable; the outbox sweep delivers the pending reactions later: %s", exc)


def drain_outbox() -> dict:
    """rq job: deliver every pending reaction, oldest event first, as the only drainer."""
    from core.jobs import jobs

    queue = jobs()
    conn = queue.connection()
    # Cleared before reading: a commit after this point queues another drain, which waits
    # for the lock and then finds what this one did not see.
    conn.delete(DRAIN_SCHEDULED_KEY.format(queue=queue.queue_name))
    lock = conn.lock(DRAIN_LOCK_KEY.format(queue=queue.queue_name), timeout=DRAIN_LOCK_TTL, blocking_timeout=120,
                     thread_local=False)  # renewed from another thread (_LockRenewal)
    if not lock.acquire():
        schedule_drain(queue)  # the holder is stuck or very slow: try again later
        return {"busy": 1}
    renewing = _LockRenewal(lock)
    try:
        return deliver()
    finally:
        renewing.stop()
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired while we worked: nothing to release
            log.warning("the outbox drain lock expired before the drain ended")


class _LockRenewal(threading.Thread):
    """Renews the drain lock every third of its life while the drain runs, however long one
    batch takes; once its process dies the lock expires within DRAIN_LOCK_TTL."""

    def __init__(self, lock):
        super().__init__(daemon=True, name="storecrm-drain-lock")
        self.lock = lock
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(DRAIN_LOCK_TTL / 3):
            try:
                self.lock.reacquire()
            except Exception:  # noqa: BLE001 - Redis away or the lock lost: the drain ends on its own
                log.warning("could not renew the outbox drain lock")
                return

    def stop(self) -> None:
        self.stopped.set()


def sweep_outbox() -> dict:
    """Periodic job: deliver what stayed pending (a process died between commit and delivery)."""
    from core.jobs import jobs

    if jobs().uses_redis:
        return drain_outbox()
    return deliver(older_than=SWEEP_AGE)


# --- delivering ----------------------------------------------------------------------------------------

def deliver(event_ids=None, older_than: timedelta | None = None, batch_size: int = BATCH_SIZE,
            pause: float = 0.0) -> dict:
    """Deliver pending reactions (of `event_ids`, or all; only those pending for `older_than`)
    in batches of one transaction each, oldest event first. Returns counts by outcome.
    `pause`: seconds to wait between two batches, so that writers queued on SQLite's lock
    (the tills) go first."""
    session = db.session
    counts: dict[str, int] = {}
    while True:
        query = (select(EventDelivery).where(EventDelivery.status == "pending")
                 .options(joinedload(EventDelivery.event))
                 .order_by(EventDelivery.event_id, EventDelivery.id).limit(batch_size))
        if event_ids is not None:
            query = query.where(EventDelivery.event_id.in_(event_ids))
        if older_than is not None:
            query = query.where(EventDelivery.next_attempt_at <= utcnow() - older_than)
        # Another process delivering the same rows: it keeps them. (SQLite: a locking read takes
        # the write lock first, core/app.py, so the status read here is final.)
        query = query.with_for_update(skip_locked=True, of=EventDelivery)
        batch = session.scalars(query).all()
        if not batch:
            session.rollback()
            return _then_send_webhooks(session, counts)
        for status in run_batch(session, batch):
            counts[status] = counts.get(status, 0) + 1
        session.commit()
        if len(batch) < batch_size:
            return _then_send_webhooks(session, counts)
        if pause:
            time.sleep(pause)


def _then_send_webhooks(session, counts: dict) -> dict:
    """Once the batches that wrote webhook deliveries are committed: send them (see
    core.webhooks.sender.send_soon; never holding the outbox's drain lock over HTTP)."""
    from core.webhooks.outbox import FANNED_KEY

    if session.info.pop(FANNED_KEY, False):
        from core.webhooks.sender import send_soon

        try:
            send_soon()
        except Exception:  # noqa: BLE001 - committed; the periodic job sends what is due
            log.exception("sending webhook deliveries failed; the periodic job retries them")
    return counts


def run_batch(session, batch: list[EventDelivery]) -> list[str]:
    """Run the reactions of `batch` (deliveries of committed events, their `event` loaded) in the
    caller's transaction: plugins in event order, then the buyers' classes once per customer."""
    reg = events.registry()
    shared = BatchWork()
    reactions = [d for d in batch if d.plugin not in events.CORE_REACTIONS]
    classify = [d for d in batch if d.plugin == events.CLASSIFICATION]
    webhooks = [d for d in batch if d.plugin == events.WEBHOOKS]
    subjects = _preload_subjects(session, {d.event for d in reactions}) if reactions else {}
    outcomes: dict[tuple[str, int], Outcome] = {}
    for delivery in reactions:
        event = delivery.event
        store = session.get(Store, event.store_id) if event.store_id else None
        plugin = reaction_plugin(delivery.plugin)
        if plugin not in reg.enabled_in(store):
            # Switched off since the event: it does not react (the retry job says "disabled"
            # until it is switched on again).
            delivery.attempts += 1
            events.record_failure(delivery, RuntimeError(f"plugin {plugin} is switched off in this store"))
            continue
        user = session.get(User, event.actor_user_id) if event.actor_user_id else None
        ctx = HookContext(session=session, store=store, user=user, actor=event.payload.get("actor") or "system",
                          event_id=event.id, registry=reg, batch=shared)
        outcome = outcomes[(delivery.plugin, delivery.event_id)] = Outcome(delivery.plugin, delivery.event_id,
                                                                           delivery.attempts)
        events.attempt_reaction(session, reg, outcome, event.name, ctx, events.hook_kwargs_for(session, event, subjects))
    shared.flush(session, outcomes)
    for delivery in reactions:
        outcome = outcomes.get((delivery.plugin, delivery.event_id))
        if outcome is not None:
            outcome.apply_to(delivery)
    if classify:
        _classify(session, classify)
    if webhooks:
        from core.webhooks.outbox import fan_out

        fan_out(session, webhooks)
    return [d.status for d in batch]


@dataclass
class Outcome:
    """A delivery's attempt and outcome, kept off its row until the batch's reactions ran: set
    on the row at once, each reaction's savepoint would first flush the previous row's UPDATE;
    set at the end, the batch's rows are written together by one flush."""

    plugin: str
    event_id: int
    attempts: int
    status: str = "pending"
    delivered_at: object = None
    last_error: str | None = None
    next_attempt_at: object = None

    def apply_to(self, delivery: EventDelivery) -> None:
        for name in ("attempts", "status", "delivered_at", "last_error", "next_attempt_at"):
            setattr(delivery, name, getattr(self, name))


class BatchWork:
    """What the reactions of one batch asked to do once for all (`HookContext.once_per_batch`)."""

    def __init__(self):
        self._work: dict = {}  # key -> (flush, items, contributors)

    def add(self, key, flush, items, contributor) -> None:
        _, pending, contributors = self._work.setdefault(key, (flush, {}, set()))
        pending.update(dict.fromkeys(items))  # an ordered set
        contributors.add(contributor)

    def flush(self, session, deliveries: dict) -> None:
        """Run each key's work in a savepoint; if it raises, the deliveries that asked for it
        are recorded as failed (and retried), like a reaction that raised."""
        for key, (flush, items, contributors) in self._work.items():
            try:
                with session.begin_nested():
                    flush(session, list(items))
            except Exception as exc:  # noqa: BLE001 - recorded and retried, like a reaction
                log.warning("the shared work %s of a delivery batch failed: %s", key, exc)
                for contributor in contributors:
                    delivery = deliveries.get(contributor)
                    if delivery is not None and delivery.status == "done":
                        delivery.delivered_at = None
                        events.record_failure(delivery, exc)
        self._work.clear()


def _classify(session, deliveries: list[EventDelivery]) -> None:
    """The buyers' classes, once per (customer, store) however many of their sales the batch
    has: the buyers of each store together, in one lock-and-read and one upsert. Should that
    fail, each of them again on their own, so only the deliveries of a customer that cannot be
    classified are recorded as failed (and retried)."""
    from core.classification.one_customer import recompute_customers

    by_store: dict[int | None, dict[int, list[EventDelivery]]] = {}
    buyer_of = _buyers(session, {d.event for d in deliveries})
    done: list[EventDelivery] = []
    for delivery in deliveries:
        customer_id, store_id = buyer_of.get(delivery.event_id, (None, None))
        if customer_id is None:  # the sale lost its buyer since (an erasure): nothing to classify
            done.append(delivery)
        else:
            by_store.setdefault(store_id, {}).setdefault(customer_id, []).append(delivery)
    now = utcnow()
    failed: list[tuple[list[EventDelivery], Exception]] = []
    for store_id, buyers in by_store.items():
        try:
            with session.begin_nested():
                recompute_customers(session, list(buyers), store_id, now)
        except Exception as together:  # noqa: BLE001 - then one by one, to find whose it is
            if len(buyers) == 1:
                failed.append((next(iter(buyers.values())), together))
                continue
            for customer_id, group in buyers.items():
                try:
                    with session.begin_nested():
                        recompute_customers(session, [customer_id], store_id, now)
                except Exception as exc:  # noqa: BLE001 - recorded and retried, like a plugin's reaction
                    failed.append((group, exc))
                else:
                    done.extend(group)
        else:
            done.extend(d for group in buyers.values() for d in group)
    # Set after all the savepoints (see Outcome): the rows are written by one flush.
    for delivery in done:
        delivery.attempts += 1
        events.record_success(delivery)
    for group, exc in failed:
        log.warning("classification of customer %s failed: %s", buyer_of[group[0].event_id][0], exc)
        for delivery in group:
            delivery.attempts += 1
            events.record_failure(delivery, exc)


def _buyers(session, batch_events) -> dict[int, tuple[int, int]]:
    """event id -> (customer, store) of the sale each sale or refund event is about."""
    sale_events = {e.subject_id: e.id for e in batch_events if e.name == "sale_recorded"}
    refund_events = {e.subject_id: e.id for e in batch_events if e.name == "sale_refunded"}
    found = {}
    if sale_events:
        for sale_id, customer_id, store_id in session.execute(
                select(Sale.id, Sale.customer_id, Sale.store_id).where(Sale.id.in_(sale_events))):
            found[sale_events[sale_id]] = (customer_id, store_id)
    if refund_events:
        for refund_id, customer_id, store_id in session.execute(
                select(Refund.id, Sale.customer_id, Sale.store_id).join(Sale, Sale.id == Refund.sale_id)
                .where(Refund.id.in_(refund_events))):
            found[refund_events[refund_id]] = (customer_id, store_id)
    return found


def _preload_subjects(session, batch_events) -> dict:
    """The batch's sales and refunds with what reactions read, a few statements in all, by
    (model, id) for `hook_kwargs_for`. (Held by the caller: the session keeps only weak
    references, and rows nobody held would be loaded again, one query each.)"""
    sale_ids = {e.subject_id for e in batch_events if e.name == "sale_recorded"}
    refund_ids = {e.subject_id for e in batch_events if e.name == "sale_refunded"}
    loaded: dict = {}
    if refund_ids:
        for refund in session.scalars(select(Refund).where(Refund.id.in_(refund_ids))
                                      .options(selectinload(Refund.lines))):
            loaded[(Refund, refund.id)] = refund
            sale_ids.add(refund.sale_id)
    if sale_ids:
        for sale in session.scalars(select(Sale).where(Sale.id.in_(sale_ids))
                                    .options(selectinload(Sale.lines), selectinload(Sale.adjustments),
                                             selectinload(Sale.payments), selectinload(Sale.refunds))):
            loaded[(Sale, sale.id)] = sale
    return loaded
