"""What every message obeys: templates with personal fields (bilingual, naming the store),
the signed unsubscribe link and the reply keyword 退订, the frequency cap (seed 002: at most
2 marketing messages per customer per calendar month in the store's timezone, at most 1 once 3
messages went unanswered — no purchase since) and quiet hours (none between 21:00 and 08:00
store time). Care messages the customer asked for and transactional notices are exempt from
the cap and quiet hours, and labelled as such."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select

from core.errors import InvalidInput
from core.models import Consent, Customer, Sale
from plugins.campaigns.models import Message

UNSUBSCRIBE_KEYWORDS = ("退订", "TD", "T", "STOP", "UNSUBSCRIBE")
COUNTED_STATES = ("claimed", "sent", "uncertain")  # what a customer may have received

_env = SandboxedEnvironment(autoescape=False)
FIELDS = ("name", "store", "tier", "points", "coupon_code", "coupon_label", "expires_on")

FOOTER = {
    "zh": "\n\n—— {store}\n退订请点击 {link} 或回复“退订”。",
    "en": "\n\n— {store}\nTo unsubscribe open {link} or reply 退订 (TD).",
}
CARE_LABEL = {"zh": "【您订阅的关怀提醒】", "en": "[Care message you asked for] "}


def language_of(customer) -> str:
    """A customer's language: their preference, else Chinese (the shops' customers)."""
    lang = str((customer.preferences or {}).get("language") or "zh")
    return "en" if lang.lower().startswith("en") else "zh"


def check_template(text: str, field: str) -> None:
    try:
        _env.from_string(text)
    except Exception as exc:  # noqa: BLE001 - any syntax error is the manager's to fix
        raise InvalidInput(f"template {field} does not parse", fields={field: [f"Template error: {exc}"]}) from None


@lru_cache(maxsize=256)
def _compiled(text: str):
    return _env.from_string(text)


def render(text: str, values: dict) -> str:
    return _compiled(text).render(**{k: values.get(k, "") for k in FIELDS})


def consent_stands(session, customer_ids, consent_channel: str) -> set[int]:
    """Of `customer_ids`, those whose latest marketing consent for the channel is a grant (one
    statement, on the consent index, whatever the size of the consent table)."""
    if not customer_ids:
        return set()
    latest = (select(func.max(Consent.id)).where(Consent.customer_id.in_(customer_ids), Consent.channel == consent_channel,
                                                 Consent.purpose == "marketing").group_by(Consent.customer_id))
    return set(session.scalars(select(Consent.customer_id).where(Consent.id.in_(latest), Consent.granted.is_(True))))


# --- unsubscribe ----------------------------------------------------------------------------------

def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="campaigns-unsubscribe")


def unsubscribe_token(customer_id: int, consent_channel: str, message_id: int | None = None) -> str:
    return _serializer().dumps({"c": customer_id, "ch": consent_channel, "m": message_id})


def read_token(token: str) -> dict | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and {"c", "ch"} <= set(data) else None


def unsubscribe_link(token: str) -> str:
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return f"{base}/api/v1/campaigns/unsubscribe/{token}"


def withdraw(session, customer: Customer, consent_channel: str, source: str, proof: str | None = None,
             store=None) -> bool:
    """Withdraw the customer's marketing consent for the channel through the core service
    (a new consent row: time, source, proof). False when none stood."""
    from core.services.customers import current_consents, set_consent

    standing = current_consents(session, customer.id).get(consent_channel)
    if standing is None or not standing.granted:
        return False
    set_consent(session, customer, consent_channel, False, source=source, proof=proof, store=store)
    return True


def is_unsubscribe_reply(text: str) -> bool:
    return text.strip().upper() in UNSUBSCRIBE_KEYWORDS


# --- cap and quiet hours --------------------------------------------------------------------------

def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(now: datetime, timezone: str, settings: dict) -> bool:
    local = now.astimezone(ZoneInfo(timezone)).time()
    start, end = _hhmm(settings["quiet_start"]), _hhmm(settings["quiet_end"])
    if start == end:
        return False
    return (local >= start or local < end) if start > end else (start <= local < end)


def quiet_hours_end(now: datetime, timezone: str, settings: dict) -> datetime:
    """The next end of quiet hours (08:00 store time) after `now`, in UTC."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    end = _hhmm(settings["quiet_end"])
    morning = datetime.combine(local.date(), end, tzinfo=zone)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(ZoneInfo("UTC"))


def month_start(now: datetime, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def over_cap(session, customer_ids: list[int], now: datetime, timezone: str, settings: dict) -> set[int]:
    """Of `customer_ids`, those who may receive no more marketing this month: 2 already this
    calendar month, or 1 already while their last 3 messages went unanswered (no purchase
    since the third-last). Two grouped statements for the whole batch.

    The customers' rows are locked first (FOR UPDATE, in id order) until the caller commits the
    messages it writes: two campaigns, or a campaign and an automation, counting for the same
    customer at the same moment count one after the other, so neither sends past the cap."""
    if not customer_ids:
        return set()
    session.execute(select(Customer.id).where(Customer.id.in_(sorted(customer_ids))).order_by(Customer.id)
                    .with_for_update())
    marketing = (Message.purpose == "marketing", Message.status.in_(COUNTED_STATES))
    this_month = dict(session.execute(
        select(Message.customer_id, func.count()).where(Message.customer_id.in_(customer_ids), *marketing,
                                                        Message.claimed_at >= month_start(now, timezone))
        .group_by(Message.customer_id)).all())
    last_sale = (select(func.max(Sale.occurred_at)).where(Sale.customer_id == Message.customer_id)
                 .correlate(Message).scalar_subquery())
    unanswered = dict(session.execute(
        select(Message.customer_id, func.count()).where(
            Message.customer_id.in_(customer_ids), *marketing,
            (last_sale.is_(None)) | (Message.claimed_at > last_sale))
        .group_by(Message.customer_id)).all())
    full = set()
    for cid in customer_ids:
        cap = settings["reduced_cap"] if unanswered.get(cid, 0) >= settings["unanswered_after"] else settings["monthly_cap"]
        if this_month.get(cid, 0) >= cap:
            full.add(cid)
    return full
