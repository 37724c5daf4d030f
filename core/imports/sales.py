"""Sale rows: a row is a sale, or a line of one — consecutive rows with the same store and
receipt number (单号) are one sale's lines. A sale names its customer by card number or phone
(or nobody: a walk-in) and its store by code, and has product lines or only a total."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from sqlalchemy import select

from core.errors import DomainError
from core.imports import columns as col
from core.imports.columns import RowError
from core.models import Store
from core.services import sales_batch as batch
from core.services.sales_batch import ChunkLookups


class SaleRows:
    """Turns the stream of rows into a stream of sales, grouping lines by receipt."""

    def __init__(self, session, mapping: dict[str, int], default_store: Store | None):
        self.session = session
        self.mapping = mapping
        self.default_store = default_store
        self._stores: dict[str, Store | None] = {}

    def store(self, code: str | None) -> Store | None:
        if not code:
            return self.default_store
        if code not in self._stores:  # a chain has few stores: a small cache
            self._stores[code] = self.session.scalars(select(Store).where(Store.code == code)).first()
        return self._stores[code]

    def units(self, rows) -> Iterator[tuple[int, dict]]:
        """(first line, {"store", "data", "problems": [(line, field, reason)]}) per sale."""
        current, key = None, None
        for line, cells in rows:
            row_key, item = self._parse(line, cells)
            if current is not None and (row_key is None or row_key != key or "sku" not in self.mapping):
                yield current["line"], current
                current = None
            if current is None:
                current, key = item, row_key
            else:
                current["data"].setdefault("lines", []).extend(item["data"].get("lines", []))
                current["problems"].extend(item["problems"])
                current["lines"].append(line)
        if current is not None:
            yield current["line"], current

    def _parse(self, line: int, cells: list):
        problems: list[tuple[int, str, str]] = []
        get = lambda field: col.cell(cells, self.mapping, field)  # noqa: E731
        code = col.text(get("store"))
        store = self.store(code)
        if store is None:
            problems.append((line, "store", f"unknown store {code}" if code else "no store (use --store)"))
        data: dict = {"external_id": col.text(get("external_id")), "staff": col.text(get("staff"))}
        if col.text(get("channel")):
            data["channel"] = col.text(get("channel"))
        try:
            when = get("occurred_at")
            if when is None:
                raise ValueError("no date and time")
            data["occurred_at"] = col.moment(when, store.tz if store else _utc())
        except ValueError as exc:
            problems.append((line, "occurred_at", str(exc)))
        card, phone = col.text(get("customer_code")), col.text(get("phone"))
        if card or phone:
            data["customer_ref"] = {"code": card, "phone": phone}
        sku = col.text(get("sku"))
        if sku:
            try:
                qty = col.quantity(get("quantity") if get("quantity") is not None else 1)
                price = col.money(get("unit_price")) if get("unit_price") is not None else None
                data["lines"] = [{"sku": sku, "quantity": qty, **({"unit_price": price} if price is not None else {})}]
            except ValueError as exc:
                problems.append((line, "quantity", str(exc)))
        else:
            try:
                if get("total") is None:
                    raise ValueError("no amount and no product")
                data["total"] = col.money(get("total"))
            except ValueError as exc:
                problems.append((line, "total", str(exc)))
        key = (code, data["external_id"]) if data["external_id"] else None
        return key, {"line": line, "lines": [line], "store": store, "data": data, "problems": problems}


def _utc():
    from datetime import timezone

    return timezone.utc


class ChunkWriter:
    """Writes a chunk of sales through the batch service (core/services/sales_batch.py): the
    chunk's customers, products and receipts imported before are fetched with one query each,
    and its sales are written together (a failing one then on its own, in a savepoint). A row
    is rejected with its line, field and reason."""

    def __init__(self, session, *, with_events: bool, user=None, actor: str = "import"):
        self.session = session
        self.with_events = with_events
        self.user = user
        self.actor = actor
        # (store id, receipt) -> (first line, content) of every receipt met in this file.
        self._receipts: dict[tuple[int, str], tuple[int, tuple]] = {}

    def write(self, chunk: list[tuple[int, dict]]) -> list[tuple[int, object]]:
        """(line, "created" | "skipped" | RowError | DomainError) per sale of the chunk; the
        caller commits."""
        wanted = [{**unit["data"], "customer": unit["data"].get("customer_ref")} for _, unit in chunk
                  if not unit["problems"]]
        lookups = ChunkLookups(self.session, wanted)
        outcomes: list[object] = [None] * len(chunk)
        ready: list[tuple[int, Store, dict]] = []
        for i, (_, unit) in enumerate(chunk):
            if unit["problems"]:
                outcomes[i] = RowError({field: reason for _, field, reason in unit["problems"]})
                continue
            data = dict(unit["data"])
            if data.get("external_id"):
                key, content = (unit["store"].id, data["external_id"]), _content(data)
                first = self._receipts.setdefault(key, (unit["line"], content))
                if first[0] != unit["line"]:
                    # Met before in this file: the same receipt again is "imported before";
                    # another date, amount or lines is a conflict a person must settle.
                    outcomes[i] = "skipped" if first[1] == content else RowError(
                        {"external_id": f"receipt {data['external_id']} is on line {first[0]} too, with another "
                                        "date, amount or lines: keep the right one"})
                    continue
            ref = data.pop("customer_ref", None)
            try:
                if ref:
                    data["customer"] = _customer(self.session, lookups, ref)
            except RowError as exc:
                outcomes[i] = exc
                continue
            ready.append((i, unit["store"], data))
        recorded = batch.record_chunk(self.session, [(store, data) for _, store, data in ready], user=self.user,
                                      actor=self.actor, with_events=self.with_events, lookups=lookups)
        # A receipt recorded before: "imported before" when the same, else a conflict naming the
        # earlier sale (the batch refuses a re-post with another body, with the first sale's id).
        before = [o.sale_id for o in recorded if o.sale_id is not None and o.status != 201]
        earlier = _earlier_sales(self.session, before)
        for (i, _, data), outcome in zip(ready, recorded):
            outcomes[i] = {201: "created", 200: "skipped"}.get(outcome.status, outcome.error)
            if outcome.status != 201 and earlier.get(outcome.sale_id) is not None:
                differs = _differs(earlier[outcome.sale_id], data)
                if differs:
                    sale = earlier[outcome.sale_id]
                    outcomes[i] = RowError({"external_id": (
                        f"receipt {data['external_id']} was imported before (sale #{sale.id} of "
                        f"{sale.store.local(sale.occurred_at):%Y-%m-%d %H:%M}, {sale.total}) with another {differs}: "
                        "nothing was changed; correct the row or give it another receipt number")})
        return [(line, outcome) for (line, _), outcome in zip(chunk, outcomes)]


def _content(data: dict) -> tuple:
    """What makes two rows of one receipt the same: when, how much, what, for whom."""
    lines = tuple(sorted((line["sku"], str(line["quantity"]), str(line.get("unit_price"))) for line in data.get("lines") or []))
    ref = data.get("customer_ref") or {}
    return (data.get("occurred_at"), str(data.get("total")), lines, ref.get("code"), ref.get("phone"), data.get("staff"))


def _earlier_sales(session, sale_ids: list[int]) -> dict:
    if not sale_ids:
        return {}
    from sqlalchemy.orm import selectinload

    from core.models import Sale

    return {s.id: s for s in session.scalars(select(Sale).options(selectinload(Sale.lines), selectinload(Sale.store))
                                             .where(Sale.id.in_(sale_ids)))}


def _differs(sale, data: dict) -> str | None:
    """Which part of an earlier sale a row with its receipt number contradicts, if any."""
    if data.get("occurred_at") is not None and abs((sale.occurred_at - data["occurred_at"]).total_seconds()) >= 1:
        return "date and time"
    if data.get("lines"):
        mine = sorted((line["sku"], Decimal(str(line["quantity"]))) for line in data["lines"])
        theirs = sorted((line.sku, Decimal(line.quantity)) for line in sale.lines)
        if mine != theirs:
            return "list of products"
        prices = {line["sku"]: line["unit_price"] for line in data["lines"] if line.get("unit_price") is not None}
        if any(line.sku in prices and Decimal(str(prices[line.sku])) != line.unit_price for line in sale.lines):
            return "unit price"
    elif data.get("total") is not None and Decimal(str(data["total"])) != sale.subtotal:
        return "amount"
    return None


def _customer(session, lookups: ChunkLookups, ref: dict) -> dict:
    """The sale's customer by card number, else by phone; both must exist (import the customers
    first). Returns the reference the batch service resolves from the same lookups."""
    if ref.get("code"):
        if lookups.customer_by_code(session, ref["code"]) is not None:
            return {"code": ref["code"]}
        if not ref.get("phone"):
            raise RowError({"customer_code": f"no customer with card number {ref['code']}"})
    try:
        found = lookups.customer_by_phone(session, ref["phone"])
    except DomainError as exc:  # InvalidInput: a bad phone is this row's problem
        raise RowError({"phone": f"not a valid phone number: {ref['phone']}"}) from exc
    if found is None:
        raise RowError({"phone": f"no customer with phone {ref['phone']} (import the customers first)"})
    return {"phone": ref["phone"]}
