"""Many sales at once: a till's offline batch (POST /sales/batch) and the sales import.

Sales are written a chunk at a time, each chunk in the caller's transaction: the chunk's
products, staff, customers and already-recorded receipts are fetched with one query each, the
chunk's sales are written together in one savepoint (a bad one is then written on its own and
reported, the others stay: `record_chunk`) and each delivers its own `sale_recorded` as a
single sale does (core/events.py); the buyers' classes
follow after the commit, from the outbox, once per customer per delivery batch. Chunks are
bounded, so a batch never holds the SQLite writer lock for long: the tills keep selling."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import inspect, select, tuple_
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import lazyload

from core import events
from core.access import caller_store_ids, seen_by_store, visible_customers
from core.errors import Conflict, DomainError, InvalidInput
from core.models import Customer, Sale, Store, User
from core.services.phones import normalise_phone
from core.services.fingerprint import fingerprint
from core.services.sale_rows import insert_sale
from core.services.sales import (
    QUERY_EACH, ExternalIdTaken, Lookups, build_sale, classified, find_sale_by_external_id, is_new_phone_race,
    same_receipt,
)

log = logging.getLogger(__name__)
CHUNK_SIZE = 100  # sales per transaction: a fraction of a second of the SQLite writer lock


class SaleNotRecorded(DomainError):
    status, code = 500, "internal_error"


@dataclass
class SaleOutcome:
    """201: recorded now; 200: recorded before (the first sale's id); else the error's status
    (with the first sale's id when the receipt was recorded before with another body)."""

    status: int
    sale_id: int | None = None
    error: DomainError | None = None
    customer_id: int | None = None


class ChunkLookups(Lookups):
    """What a chunk of sales names, fetched with one query per kind; a profile created for an
    unknown phone is found by the chunk's later sales with that phone."""

    def __init__(self, session, sales: list[dict]):
        from core.crypto import cipher

        self._products = QUERY_EACH.products(session, {line["sku"] for d in sales for line in d.get("lines") or []})
        names = {d["staff"] for d in sales if d.get("staff")}
        self._staff = ({u.username: u for u in session.scalars(select(User).where(User.username.in_(names)))}
                       if names else {})
        refs = [d.get("customer") or {} for d in sales]
        ids = {int(r["id"]) for r in refs if r.get("id") is not None}
        codes = {r["code"] for r in refs if r.get("code")}
        self._hashes: dict[str, list[str]] = {}
        for ref in refs:
            if ref.get("phone") and ref["phone"] not in self._hashes:
                try:
                    self._hashes[ref["phone"]] = cipher().lookup_hashes(normalise_phone(ref["phone"]))
                except DomainError:
                    pass  # not a phone: that sale's own lookup reports it
        live = Customer.erased_at.is_(None)
        # An id names only a customer the caller's stores see (core.access).
        seen = caller_store_ids()
        seen = visible_customers(seen) if seen is not None else Customer.id.isnot(None)
        self._by_id = ({c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids), live, seen))}
                       if ids else {})
        self._by_code = ({c.code: c for c in session.scalars(select(Customer).where(Customer.code.in_(codes), live))}
                         if codes else {})
        wanted = {h for hashes in self._hashes.values() for h in hashes}
        self._by_hash = ({c.phone_hash: c for c in session.scalars(
            select(Customer).options(lazyload(Customer.tag_rows)).where(Customer.phone_hash.in_(wanted), live))}
            if wanted else {})
        self._seen: dict[int, tuple[set[int], set[int]]] = {}  # store id -> (fetched customers, those it sees)

    def products(self, session, skus):
        return {sku: self._products[sku] for sku in skus if sku in self._products}

    def store_sees(self, session, customer, store):
        """From one query per store for the customers fetched when the chunk began. One of them
        not seen then is linked at its first sale here; at its next, the link's INSERT finds the
        link made (ON CONFLICT) or makes it again if that sale's savepoint was rolled back."""
        fetched = self._seen.get(store.id)
        if fetched is None:
            ids = {c.id for found in (self._by_id, self._by_code, self._by_hash) for c in found.values()}
            fetched = self._seen[store.id] = (ids, seen_by_store(session, ids, store.id))
        ids, seen = fetched
        if customer.id not in ids:
            return None  # created or found since the chunk began: ask
        return customer.id in seen

    def staff_named(self, session, username):
        return self._staff.get(username)

    def customer_by_id(self, session, customer_id, store_ids=None):
        return _kept(self._by_id.get(customer_id))

    def customer_by_code(self, session, code):
        return _kept(self._by_code.get(code))

    def customer_by_phone(self, session, phone):
        if phone not in self._hashes:
            return QUERY_EACH.customer_by_phone(session, phone)  # raises InvalidInput for a bad phone
        for h in self._hashes[phone]:
            found = _kept(self._by_hash.get(h))
            if found is not None:
                return found
        # Not there when the chunk began: a new profile. Should another till have created it
        # since, its unique lookup hash refuses ours and the sale is written again, asking.
        return None

    def customer_created(self, customer, phone):
        if phone in self._hashes:
            self._by_hash[customer.phone_hash] = customer
            self._hashes[phone] = [customer.phone_hash, *self._hashes[phone]]


def _kept(customer: Customer | None) -> Customer | None:
    """None for a profile whose creation a failed sale's savepoint rolled back."""
    return customer if customer is not None and inspect(customer).persistent else None


def record_sales(session, store: Store, sales: list[dict], *, user=None, actor: str = "system",
                 chunk_size: int | None = None) -> list[SaleOutcome]:
    """Record `sales` (validated SaleIn data) in `store`, committing every `chunk_size` sales.
    One outcome per sale, in order. The same external_id again, in the batch or from before,
    answers 200 with the first sale's id."""
    chunk_size = chunk_size or CHUNK_SIZE
    outcomes: list[SaleOutcome] = []
    for start in range(0, len(sales), chunk_size):
        outcomes.extend(record_chunk(session, [(store, data) for data in sales[start:start + chunk_size]],
                                     user=user, actor=actor))
        session.commit()
    return outcomes


def record_chunk(session, items: list[tuple[Store, dict]], *, user=None, actor: str = "system",
                 with_events: bool = True, lookups: ChunkLookups | None = None) -> list[SaleOutcome]:
    """Record one chunk of (store, sale data); the caller commits. Without events (a history
    import) no plugin hears of the sales and the classes are left to a full recompute.
    `lookups`: already fetched for these sales (the import resolved its customers with them).

    The sales are written together: one savepoint for the run, not one per sale (two statements
    each), their events' deliveries in one INSERT. Should a sale fail, the run is rolled back,
    the sales before it are written together again and that one on its own, in a savepoint
    where its error is reported (or its reaction guarded); then the run goes on after it."""
    run = _Run(session, lookups or ChunkLookups(session, [data for _, data in items]), _recorded(session, items),
               user, actor, with_events)
    outcomes: list[SaleOutcome] = []
    pending = list(items)
    while pending:
        written, failed_at, cause = run.together(pending)
        outcomes.extend(written)
        if failed_at is None:
            break
        head = pending[:failed_at]
        if head:
            written, again, _ = run.together(head)
            # The state moved under the run (another till, a rolled-back profile): one by one.
            outcomes.extend(written if again is None else [run.one(store, data) for store, data in head])
        # A reaction that failed unguarded is run guarded at once (it would fail again).
        outcomes.append(run.one(*pending[failed_at], guarded=isinstance(cause, events.ReactionFailed)))
        pending = pending[failed_at + 1:]
    return outcomes


class _SaleFailed(Exception):
    """A sale of a run written together failed: the run is rolled back at `index`."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


class _Run:
    """The sales of one chunk, their lookups and the receipts recorded so far."""

    def __init__(self, session, lookups, recorded, user, actor, with_events):
        self.session, self.lookups, self.recorded = session, lookups, recorded
        self.user, self.actor, self.with_events = user, actor, with_events

    def together(self, items) -> tuple[list[SaleOutcome], int | None, BaseException | None]:
        """Write `items` in one savepoint with the plugins' in-transaction reactions unguarded.
        Returns (their outcomes, None, None); or, when one fails, ([], its index, its error)
        with nothing of the run left written."""
        session = self.session
        recorded = dict(self.recorded)
        outcomes: list[SaleOutcome] = []
        try:
            with session.begin_nested(), events.optimistic(session), events.deliveries_together(session):
                for index, (store, data) in enumerate(items):
                    outcome = self._receipt_seen(recorded, store, data)
                    if outcome is None:
                        try:
                            sale = self._write(store, data)
                        except Exception as exc:
                            raise _SaleFailed(index) from exc
                        outcome = SaleOutcome(201, sale.id, customer_id=sale.customer_id)
                        if data.get("external_id"):
                            recorded[(store.id, data["external_id"])] = (sale.id, fingerprint(data))
                    outcomes.append(outcome)
        except _SaleFailed as failed:  # its rows left the session with the rollback (core/models/rows.py)
            log.debug("sale %s of a chunk failed (%s): writing it on its own", failed.index, failed.__cause__)
            return [], failed.index, failed.__cause__
        self.recorded = recorded
        return outcomes, None, None

    def _write(self, store, data) -> Sale:
        sale = build_sale(self.session, store, data, user=self.user, actor=self.actor, lookups=self.lookups, add=False)
        if not insert_sale(self.session, sale):
            raise ExternalIdTaken()  # recorded by another till since the chunk began
        if self.with_events:
            events.emit(self.session, store, "sale_recorded", sale, {"sale": sale}, user=self.user, actor=self.actor,
                        core_reactions=classified(sale))
        return sale

    def _receipt_seen(self, recorded, store, data) -> SaleOutcome | None:
        """The outcome of a receipt recorded before (in this chunk or earlier), or None."""
        key = (store.id, data.get("external_id"))
        if not key[1] or key not in recorded:
            return None
        sale_id, first = recorded[key]
        try:
            same_receipt(first, data)
        except DomainError as exc:
            return SaleOutcome(exc.status, sale_id, error=exc)  # the first sale's id, for the report
        return SaleOutcome(200, sale_id)

    def one(self, store, data, guarded: bool = False) -> SaleOutcome:
        """One sale in its own savepoint: its error reported, or its failing reaction guarded."""
        outcome = self._receipt_seen(self.recorded, store, data)
        if outcome is not None:
            return outcome
        outcome = _record_one(self.session, store, data, self.lookups, self.user, self.actor, self.with_events,
                              guarded=guarded)
        key = (store.id, data.get("external_id"))
        if outcome.sale_id is not None and key[1] and key not in self.recorded:
            self.recorded[key] = (outcome.sale_id, fingerprint(data))
        return outcome


def _recorded(session, items) -> dict[tuple[int, str], tuple[int, dict | None]]:
    """(store id, external_id) -> (sale id, request fingerprint) of the chunk's receipts recorded before."""
    keys = {(store.id, data["external_id"]) for store, data in items if data.get("external_id")}
    if not keys:
        return {}
    rows = session.execute(select(Sale.store_id, Sale.external_id, Sale.id, Sale.request_fingerprint)
                           .where(tuple_(Sale.store_id, Sale.external_id).in_(keys)))
    return {(store_id, external_id): (sale_id, first) for store_id, external_id, sale_id, first in rows}


def _record_one(session, store, data, lookups, user, actor, with_events, guarded=False) -> SaleOutcome:
    # The plugins' in-transaction reactions run without a savepoint each (as at the till): should
    # one raise, the sale's savepoint is rolled back and the sale written again with them guarded.
    attempt = 0
    while attempt < 2:
        attempt += 1
        try:
            with session.begin_nested(), events.optimistic(session, enabled=not guarded):
                sale = build_sale(session, store, data, user=user, actor=actor, lookups=lookups, add=False)
                if not insert_sale(session, sale):
                    raise ExternalIdTaken()  # recorded by another till since the chunk began
                if with_events:
                    events.emit(session, store, "sale_recorded", sale, {"sale": sale}, user=user, actor=actor,
                                core_reactions=classified(sale))
            return SaleOutcome(201, sale.id, customer_id=sale.customer_id)
        except events.ReactionFailed as exc:
            if guarded:  # guarded reactions record their failure instead of raising
                return _failed(data)
            log.warning("%s; writing the sale of the batch again with the reaction guarded", exc)
            guarded = True
            attempt -= 1
        except Conflict as exc:
            if attempt == 2 or not is_new_phone_race(exc):
                return SaleOutcome(exc.status, error=exc)
            lookups = QUERY_EACH  # another till created this phone's profile meanwhile: find it
        except DomainError as exc:
            return SaleOutcome(exc.status, error=exc)
        except (DataError, OverflowError) as exc:
            # A value the database cannot hold: this sale's savepoint is rolled back, the rest stay.
            log.warning("sale %r of a batch is out of range: %s", data.get("external_id"), type(exc).__name__)
            return SaleOutcome(400, error=InvalidInput("a value of the sale is out of range",
                                                       fields={"_sale": [type(exc).__name__]}))
        except (IntegrityError, ExternalIdTaken):
            # Another till recorded the same receipt meanwhile: the first one stands.
            existing = find_sale_by_external_id(session, store, data.get("external_id"))
            if existing is not None:
                try:
                    same_receipt(existing.request_fingerprint, data)
                except DomainError as exc:
                    return SaleOutcome(exc.status, existing.id, error=exc)
                return SaleOutcome(200, existing.id)
            # Or created the same new customer by phone: once more, asking the database.
            if attempt == 2:
                return _failed(data)
            lookups = QUERY_EACH
        except Exception:  # noqa: BLE001 - one broken sale must not take the batch down
            return _failed(data)
    return _failed(data)


def _failed(data) -> SaleOutcome:
    """A sale that failed for a reason that is not the till's (logged): reported on its own,
    status 500, so the till keeps it and sends it again later; the batch's other sales stand."""
    log.exception("sale %r of a batch failed", data.get("external_id"))
    return SaleOutcome(500, error=SaleNotRecorded("the sale could not be recorded; send it again later"))
