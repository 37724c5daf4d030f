"""Feedback entries: recorded by staff (comment book, social message), sent through the public
form (rate-limited per address and per store), or answered from a survey link."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from core.crypto import cipher
from core.errors import DomainError
from core.models import utcnow
from plugins.feedback.models import Complaint, FeedbackEntry, Survey
from plugins.feedback.services.complaints import check_links

IP_WINDOW = timedelta(minutes=10)
STORE_WINDOW = timedelta(hours=1)


class TooManyRequests(DomainError):
    status, code = 429, "too_many_requests"


def record_feedback(session, store, *, rating: int, category: str, text: str = "", channel: str = "comment_book",
                    customer=None, sale_id=None, staff_id=None, actor: str = "system", ip_hash: str | None = None,
                    now: datetime | None = None) -> FeedbackEntry:
    sale = check_links(session, store, customer=customer, sale_id=sale_id, staff_ids=(("staff_id", staff_id),))
    if staff_id is None and sale is not None:
        staff_id = sale.staff_id  # a rating of a sale counts for who served it
    entry = FeedbackEntry(store_id=store.id, customer_id=customer.id if customer else None, sale_id=sale_id,
                          staff_id=staff_id, channel=channel, rating=rating, category=category, text=text or "",
                          actor=actor, ip_hash=ip_hash, created_at=now or utcnow())
    session.add(entry)
    session.flush()
    return entry


# --- the public form -------------------------------------------------------------------------------

def address_hash(ip: str | None) -> str:
    """A keyed hash of the sender's address: rate limits need equality, not the address."""
    return cipher().lookup_hash("feedback-form:" + (ip or "?"))


def check_form_rate(session, store, ip_hash: str, settings: dict, now: datetime | None = None) -> None:
    """Refuse (429) a public-form entry beyond the limits: per address and store in 10 minutes,
    and per store in an hour (a flood from many addresses). Counted from the stored entries,
    so the limit holds across worker processes."""
    now = now or utcnow()
    base = select(func.count(FeedbackEntry.id)).where(FeedbackEntry.store_id == store.id,
                                                     FeedbackEntry.channel == "website")
    from_here = session.scalar(base.where(FeedbackEntry.ip_hash == ip_hash, FeedbackEntry.created_at >= now - IP_WINDOW))
    if from_here >= settings["form_limit_per_ip"]:
        raise TooManyRequests(_("Thank you — we already have several messages from you. Please try again in a few minutes."))
    in_store = session.scalar(base.where(FeedbackEntry.created_at >= now - STORE_WINDOW))
    if in_store >= settings["form_limit_per_store"]:
        raise TooManyRequests(_("The form is busy right now. Please try again later."))


def clean_text(value: str | None, limit: int = 2000) -> str:
    """Text as sent, minus characters no shop text holds (NUL and other C0 controls but
    newline and tab). Markup is kept as data: every page escapes it on display."""
    value = value or ""
    return "".join(ch for ch in value if ch in "\n\t" or ord(ch) >= 32)[:limit].strip()


# --- survey answers ---------------------------------------------------------------------------------

def answer_survey(session, survey: Survey, *, rating: int, category: str, text: str, now: datetime | None = None):
    """The answer becomes feedback linked to the survey's sale (or complaint) and staff member."""
    from core.models import Customer, Store

    now = now or utcnow()
    store = session.get(Store, survey.store_id)
    customer = session.get(Customer, survey.customer_id) if survey.customer_id else None
    entry = FeedbackEntry(store_id=store.id, customer_id=customer.id if customer else None, sale_id=survey.sale_id,
                          staff_id=survey.staff_id, channel="survey", rating=rating, category=category, text=text,
                          actor="survey", created_at=now)
    if survey.complaint_id and entry.sale_id is None:
        complaint = session.get(Complaint, survey.complaint_id)
        entry.sale_id = complaint.sale_id if complaint else None
    session.add(entry)
    session.flush()
    survey.state, survey.answered_at, survey.feedback_id = "answered", now, entry.id
    return entry
