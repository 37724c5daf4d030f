"""One customer row: parse it, then update the profile its code or phone names, or create one.

Duplicates: a phone already in use or a known customer code updates that profile (the same
person) instead of creating another; an empty cell never erases what the profile has. A phone
that belongs to a customer with a different card number is rejected: one phone is one person,
and which card is right is a person's call (merge the profiles if they are the same)."""

from __future__ import annotations

from sqlalchemy import select

from core.errors import InvalidInput
from core.imports import columns as col
from core.imports.columns import RowError
from core.models import Customer, utcnow
from core.services import customers as svc
from core.services.phones import normalise_phone

REQUIRED_ANY = ("name", "phone", "code")
PLAIN = ("name", "occupation", "notes", "address", "wechat_id", "household")


def parse(cells: list, mapping: dict[str, int]) -> dict:
    data: dict = {}
    problems: dict[str, str] = {}

    def take(field, parser):
        try:
            value = parser(col.cell(cells, mapping, field))
        except ValueError as exc:
            problems[field] = str(exc)
            return
        if value not in (None, [], {}):
            data[field] = value

    take("code", col.text)
    for field in PLAIN:
        take(field, col.text)
    take("gender", col.gender)
    take("birthday", col.birthday)
    take("email", col.email)
    take("hobbies", col.split_list)
    take("tags", col.split_list)
    take("preferences", col.preferences)
    take("home_store", col.text)
    raw_phone = col.text(col.cell(cells, mapping, "phone"))
    if raw_phone:
        try:
            data["phone"] = normalise_phone(raw_phone)
        except InvalidInput:
            problems["phone"] = f"not a valid phone number: {raw_phone}"
    if not problems and not any(data.get(f) for f in REQUIRED_ANY):
        problems["name"] = "a customer needs at least a name, a phone or a card number"
    if problems:
        # In the file's column order, as the person fixing the sheet reads it.
        raise RowError(dict(sorted(problems.items(), key=lambda kv: mapping.get(kv[0], len(cells)))))
    return data


def apply(session, data: dict, *, store, with_events: bool, user=None, actor: str = "import") -> str:
    """Write one parsed row. Returns "created" or "updated"; raises RowError."""
    by_code = None
    if data.get("code"):
        by_code = session.scalars(select(Customer).where(Customer.code == data["code"],
                                                         Customer.erased_at.is_(None))).first()
    by_phone = svc.find_by_phone(session, data["phone"]) if data.get("phone") else None
    if by_code is not None and by_phone is not None and by_code.id != by_phone.id:
        raise RowError({"phone": f"belongs to another customer ({_who(by_phone)}) than card {data['code']}"})
    if by_phone is not None and by_code is None and data.get("code") and by_phone.code:
        raise RowError({"phone": f"already belongs to customer {_who(by_phone)}: one phone is one person, "
                                 f"not created twice (merge the profiles if card {data['code']} is theirs too)"})
    target = by_code or by_phone
    if target is None:
        if data.get("home_store") is None and store is not None:
            data["home_store"] = store.code
        svc.create_customer(session, store, {**data, "source_channel": "import"}, user=user, actor=actor,
                            emit_event=with_events)
        return "created"
    changes = _merged(target, data)
    if changes:
        if with_events:
            svc.update_customer(session, target, changes, store=store, user=user, actor=actor)
        else:
            # History imports do not notify plugins per row (see `storecrm import --help`).
            svc._apply(session, target, changes)
            target.updated_at = utcnow()
    return "updated"


def _merged(customer: Customer, data: dict) -> dict:
    """What the row adds: lists and preferences are merged, other cells replace; no erasing."""
    out = dict(data)
    if "hobbies" in data:
        out["hobbies"] = list(dict.fromkeys([*(customer.hobbies or []), *data["hobbies"]]))
    if "tags" in data:
        out["tags"] = sorted(set(customer.tags) | set(data["tags"]))
    if "preferences" in data:
        out["preferences"] = {**(customer.preferences or {}), **data["preferences"]}
    if customer.home_store_id is not None:
        out.pop("home_store", None)  # an import does not move a customer's home store
    return out


def _who(customer: Customer) -> str:
    return f"{customer.code} {customer.name}".strip() if customer.code else f"#{customer.id} {customer.name}".strip()
