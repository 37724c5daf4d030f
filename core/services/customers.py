"""Customer profiles: create, update, look up, consent."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import lazyload

from core import events
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Activity, Consent, Customer, Store, utcnow
from core.models.customer import CONSENT_CHANNELS
from core.models.prepared import Prepared
from core.models.rows import fill_defaults, join_as_loaded
from core.services.phones import normalise_phone

PERSONAL_FIELDS = {"phone", "email", "address"}
PLAIN_FIELDS = (
    "name", "gender", "wechat_id", "occupation", "household", "personality", "hobbies", "needs", "notes",
    "preferences", "source_channel", "code",
)
_BIRTHDAY = re.compile(r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?$")


def parse_birthday(text: str | None) -> tuple[int | None, int | None, int | None]:
    """`1985-03-12`, `1990/07/08`, `02-29`, `--02-29` or `1985年3月12日` → (year, month, day)."""
    if text is None or str(text).strip() == "":
        return None, None, None
    raw = str(text).strip()
    match = _BIRTHDAY.match(raw[2:] if raw.startswith("--") else raw)
    if not match:
        raise InvalidInput(f"birthday {raw!r} is not a date", fields={"birthday": [f"Not a date: {raw}."]})
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        # Without a year, 29 February is a real birthday: check it against a leap year.
        date(year or 2000, month, day)
    except ValueError as exc:
        raise InvalidInput(f"birthday {raw!r} is not a real date", fields={"birthday": [f"Not a real date: {raw}."]}) from exc
    if year and not (1900 <= year <= date.today().year):
        raise InvalidInput(f"birthday year {year} is out of range", fields={"birthday": [f"Year out of range: {year}."]})
    return year, month, day


def find_by_phone(session, raw_phone: str) -> Customer | None:
    from core.crypto import cipher

    phone = normalise_phone(raw_phone)
    return BY_PHONE_HASH.scalars(session, {"hashes": cipher().lookup_hashes(phone)}).first()


# Built once (core/models/prepared.py): every till sale with a phone asks it. Tags load only if
# read: a till's sale or a counter lookup by phone rarely needs them.
BY_PHONE_HASH = Prepared(lambda dialect: select(Customer).options(lazyload(Customer.tag_rows)).where(
    Customer.phone_hash.in_(bindparam("hashes", expanding=True)), Customer.erased_at.is_(None)))


# Built once (core/models/prepared.py): a till naming a new phone writes a profile.
CUSTOMER_INSERT = Prepared(lambda dialect: insert(Customer.__table__).returning(Customer.__table__.c.id))


def get_customer(session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def _apply(session, customer: Customer, data: dict, *, phone_unused: bool = False) -> dict:
    """Apply profile fields from `data`; return {field: (old, new)} for what changed.
    `phone_unused`: the caller has just looked the phone up in this transaction and found no
    one; the unique lookup hash catches a profile created by another till since."""
    changes: dict = {}

    def change(field, old, new):
        if old != new:
            changes[field] = (None, None) if field in PERSONAL_FIELDS else (old, new)

    if "phone" in data:
        phone = normalise_phone(data["phone"]) if data["phone"] else None
        if phone and phone != customer.phone and not phone_unused:
            from core.crypto import cipher

            existing = session.scalars(
                select(Customer.id).where(Customer.phone_hash.in_(cipher().lookup_hashes(phone)), Customer.id != (customer.id or -1))
            ).first()
            if existing:
                raise Conflict("phone number already belongs to another customer",
                               fields={"phone": ["Already in use."]}, details={"existing_id": existing})
        change("phone", customer.phone, phone)
        customer.set_phone(phone)
    if "email" in data:
        email = (data["email"] or "").strip().lower() or None
        change("email", customer.email, email)
        customer.set_email(email)
    if "address" in data:
        change("address", customer.address, data["address"] or None)
        customer.address = data["address"] or None
    if "birthday" in data:
        old = customer.birthday
        customer.birth_year, customer.birth_month, customer.birth_day = parse_birthday(data["birthday"])
        change("birthday", old, customer.birthday)
    if "code" in data and data["code"] and data["code"] != customer.code:
        taken = session.scalars(select(Customer.id).where(Customer.code == data["code"])).first()
        if taken and taken != customer.id:
            raise Conflict("customer code already in use", fields={"code": ["Already in use."]},
                           details={"existing_id": taken})
    for field in PLAIN_FIELDS:
        if field in data:
            value = data[field]
            if field in ("hobbies",) and value is None:
                value = []
            if field == "preferences" and value is None:
                value = {}
            change(field, getattr(customer, field), value)
            setattr(customer, field, value)
    if "tags" in data:
        old = customer.tags
        customer.set_tags(data["tags"] or [])
        change("tags", old, customer.tags)
    if "home_store" in data:
        store = session.scalars(select(Store).where(Store.code == data["home_store"])).first() if data["home_store"] else None
        if data["home_store"] and store is None:
            raise InvalidInput("unknown store", fields={"home_store": [f"Unknown store {data['home_store']}."]})
        change("home_store", customer.home_store.code if customer.home_store else None, store.code if store else None)
        customer.home_store = store
    return changes


def create_customer(session, store: Store | None, data: dict, *, user=None, actor="system", emit_event=True,
                    phone_unused: bool = False) -> Customer:
    """Add a profile from `data` (one INSERT with every field) and deliver `customer_created`.
    `phone_unused`: see `_apply` (a till naming a phone it has just looked up)."""
    # Not in the session yet: the checks' queries cannot flush the half-filled profile.
    customer = Customer(name=data.get("name") or "", hobbies=[], preferences={}, home_store=store, tag_rows=[])
    _apply(session, customer, {k: v for k, v in data.items() if k != "consents"}, phone_unused=phone_unused)
    if not customer.source_channel:
        customer.source_channel = "walk_in"
    if customer.tag_rows:  # rows of their own: the unit of work writes them after the profile
        session.add(customer)
        session.flush()
    else:  # a till's new phone, most imports: one Core INSERT (core/models/rows.py)
        if customer.home_store is not None and customer.home_store.id is None:
            session.flush()  # a store created in this transaction gets its id
        customer.home_store_id = customer.home_store.id if customer.home_store is not None else None
        customer.id = CUSTOMER_INSERT.execute(session, fill_defaults(customer)).scalar_one()
        join_as_loaded(session, customer)
    for consent in data.get("consents") or []:
        set_consent(session, customer, consent["channel"], consent["granted"], source=consent.get("source", "signup"),
                    proof=consent.get("proof"), user=user, store=store)
    if emit_event:
        events.emit(session, store, "customer_created", customer, {"customer": customer}, user=user, actor=actor)
    return customer


def update_customer(session, customer: Customer, data: dict, *, store=None, user=None, actor="system") -> dict:
    changes = _apply(session, customer, data)
    if changes:
        customer.updated_at = utcnow()
        session.flush()
        events.emit(session, store or customer.home_store, "customer_updated", customer,
                    {"customer": customer, "changes": changes}, user=user, actor=actor,
                    payload={"changes": {k: list(v) for k, v in changes.items()}})
    return changes


def set_consent(session, customer: Customer, channel: str, granted: bool, *, source: str = "admin",
                proof: str | None = None, purpose: str = "marketing", user=None, store=None) -> Consent:
    if channel not in CONSENT_CHANNELS:
        raise InvalidInput(f"unknown channel {channel}", fields={"channel": [f"Must be one of {', '.join(CONSENT_CHANNELS)}."]})
    row = Consent(customer_id=customer.id, channel=channel, purpose=purpose, granted=bool(granted), source=source,
                  proof=proof, actor_user_id=getattr(user, "id", None), store_id=getattr(store, "id", None))
    session.add(row)
    session.flush()
    return row


def consent_history(session, customer_id: int) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id)))


def current_consents(session, customer_id: int) -> dict[str, Consent]:
    """The standing consent per channel: the latest row for each (marketing purpose)."""
    return current_consents_of(session, [customer_id]).get(customer_id, {})


def current_consents_of(session, customer_ids) -> dict[int, dict[str, Consent]]:
    """`current_consents` for a page of customers in one query: {customer_id: {channel: Consent}}."""
    ids = list(customer_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(Consent.id))
        .where(Consent.customer_id.in_(ids), Consent.purpose == "marketing")
        .group_by(Consent.customer_id, Consent.channel)
    )
    found: dict[int, dict[str, Consent]] = {}
    for row in session.scalars(select(Consent).where(Consent.id.in_(latest))):
        found.setdefault(row.customer_id, {})[row.channel] = row
    return found


def consented_customers_query(channel: str, purpose: str = "marketing"):
    """A SELECT of customer ids whose latest consent for `channel` is a grant (set-based)."""
    latest = (
        select(func.max(Consent.id).label("id"))
        .where(Consent.channel == channel, Consent.purpose == purpose)
        .group_by(Consent.customer_id)
        .subquery()
    )
    return select(Consent.customer_id).join(latest, latest.c.id == Consent.id).where(Consent.granted.is_(True))


def add_activity(session, customer: Customer, kind: str, title: str, *, body=None, store=None, user=None,
                 source="core", data=None, occurred_at=None) -> Activity:
    row = Activity(customer_id=customer.id, kind=kind, title=title, body=body, store_id=getattr(store, "id", None),
                   actor_user_id=getattr(user, "id", None), source=source, data=data or {},
                   occurred_at=occurred_at or utcnow())
    session.add(row)
    return row
