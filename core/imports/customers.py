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


class ChunkWriter:
    """Writes a chunk of parsed rows with a handful of statements instead of six to eight per row.

    The chunk's existing profiles are fetched with one query by code and one by phone hash
    (tags loaded with them), new profiles are added to the session and inserted together at
    the chunk's flush, and the stores are looked up once per file. The rules are those of
    `apply`: a row that breaks one is rejected (RowError) before it changes anything; a
    later row with the same phone or code updates the profile an earlier row created."""

    def __init__(self, session, store_code: str | None):
        self.session = session
        self.store_code = store_code
        self._stores: dict[str, object] = {}

    def store(self, code: str | None):
        if not code:
            return None
        if code not in self._stores:
            from core.models import Store

            self._stores[code] = self.session.scalars(select(Store).where(Store.code == code)).first()
        found = self._stores[code]
        if found is None:
            raise RowError({"home_store": f"unknown store {code}"})
        return found

    def prefetch(self, rows: list[dict]) -> None:
        from sqlalchemy.orm import selectinload

        from core.crypto import cipher

        codes = {d["code"] for d in rows if d.get("code")}
        self.hashes = {d["phone"]: cipher().lookup_hashes(d["phone"]) for d in rows if d.get("phone")}
        live = Customer.erased_at.is_(None)
        self.by_code: dict[str, Customer] = {}
        self.by_hash: dict[str, Customer] = {}
        if codes:
            found = select(Customer).options(selectinload(Customer.tag_rows)).where(Customer.code.in_(codes), live)
            for customer in self.session.scalars(found):
                self.by_code[customer.code] = customer
        wanted = [h for hs in self.hashes.values() for h in hs]
        if wanted:
            found = select(Customer).options(selectinload(Customer.tag_rows)).where(Customer.phone_hash.in_(wanted), live)
            for customer in self.session.scalars(found):
                self.by_hash[customer.phone_hash] = customer

    def _phone_owner(self, phone: str) -> Customer | None:
        for h in self.hashes[phone]:
            if h in self.by_hash:
                return self.by_hash[h]
        return None

    def apply(self, data: dict) -> str:
        """One row of the prefetched chunk, as `apply` (without events). Returns "created" or "updated"."""
        code, phone = data.get("code"), data.get("phone")
        home = self.store(data.get("home_store") or self.store_code)
        by_code = self.by_code.get(code) if code else None
        by_phone = self._phone_owner(phone) if phone else None
        if by_code is not None and by_phone is not None and by_code is not by_phone:
            raise RowError({"phone": f"belongs to another customer ({_who(by_phone)}) than card {code}"})
        if by_phone is not None and by_code is None and code and by_phone.code:
            raise RowError({"phone": f"already belongs to customer {_who(by_phone)}: one phone is one person, "
                                     f"not created twice (merge the profiles if card {code} is theirs too)"})
        target = by_code or by_phone
        if target is None:
            target = Customer(name=data.get("name") or "", hobbies=[], preferences={}, home_store=home,
                              source_channel="import")
            self.session.add(target)
            outcome, changes = "created", data
        else:
            outcome, changes = "updated", _merged(target, data)
            if "home_store" in changes and target.home_store is None:
                target.home_store = home  # the row's 门店 column, for a profile that has none yet
        # Phone and code are free: the prefetch (and the rows before in this chunk) said so.
        if phone and phone != target.phone:
            target.set_phone(phone)
        if code and code != target.code:
            target.code = code
        rest = {k: v for k, v in changes.items() if k not in ("phone", "code", "home_store")}
        if rest:
            svc._apply(self.session, target, rest)
        if outcome == "updated":
            target.updated_at = utcnow()
        if code:
            self.by_code[code] = target
        if phone:
            self.by_hash[self.hashes[phone][0]] = target
        return outcome
