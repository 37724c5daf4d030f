"""Sale rows: a row is a sale, or a line of one — consecutive rows with the same store and
receipt number (单号) are one sale's lines. A sale names its customer by card number or phone
(or nobody: a walk-in) and its store by code, and has product lines or only a total."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select

from core import events
from core.imports import columns as col
from core.imports.columns import RowError
from core.models import Customer, Store
from core.services import customers as customer_svc
from core.services import sales as sale_svc


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
        return key, {"line": line, "store": store, "data": data, "problems": problems}


def _utc():
    from datetime import timezone

    return timezone.utc


def apply(session, unit: dict, *, with_events: bool, user=None, actor: str = "import") -> str:
    """Write one sale. Returns "created" or "skipped" (its receipt was imported before)."""
    if unit["problems"]:
        raise RowError({f"{field}": reason for _, field, reason in unit["problems"]})
    store, data = unit["store"], dict(unit["data"])
    if sale_svc.find_sale_by_external_id(session, store, data.get("external_id")) is not None:
        return "skipped"
    ref = data.pop("customer_ref", None)
    if ref:
        customer = _customer(session, ref)
        data["customer"] = {"id": customer.id}
    sale = sale_svc.build_sale(session, store, data, user=user, actor=actor)
    session.flush()
    if with_events:
        events.emit(session, store, "sale_recorded", sale, {"sale": sale}, user=user, actor=actor)
        sale_svc.classify_after_sale(session, sale)
    return "created"


def _customer(session, ref: dict) -> Customer:
    if ref.get("code"):
        found = session.scalars(select(Customer).where(Customer.code == ref["code"],
                                                       Customer.erased_at.is_(None))).first()
        if found is not None:
            return found
        if not ref.get("phone"):
            raise RowError({"customer_code": f"no customer with card number {ref['code']}"})
    try:
        found = customer_svc.find_by_phone(session, ref["phone"])
    except Exception as exc:  # noqa: BLE001 - InvalidInput: a bad phone is this row's problem
        raise RowError({"phone": f"not a valid phone number: {ref['phone']}"}) from exc
    if found is None:
        raise RowError({"phone": f"no customer with phone {ref['phone']} (import the customers first)"})
    return found
