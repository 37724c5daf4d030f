"""Satisfaction surveys: owed after each sale to a known customer and after each resolved
complaint; the periodic job sends those that are due through `customer_notification` with a
signed link to the public survey page."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from core.models import Customer, Store, StorePlugin, utcnow
from core.models.prepared import Prepared
from core.models.types import insert_for
from core.plugins import HookContext
from plugins.feedback.models import Survey
from plugins.feedback.services import messages

SALT = "feedback-survey"
BATCH = 500


def owed_for_sale(sale) -> tuple | None:
    """What a sale owes (hashable, for `HookContext.once_per_batch`): None without a buyer."""
    if sale.customer_id is None:
        return None
    return (sale.store_id, sale.customer_id, sale.id, sale.staff_id, sale.occurred_at)


def owe_surveys(session, owed: list[tuple]) -> None:
    """One multi-row INSERT for a delivery batch's sales, idempotent per sale (a redelivered
    event inserts nothing)."""
    now = utcnow()
    SURVEY_OWED.execute(session, [{"store_id": store_id, "customer_id": customer_id, "sale_id": sale_id,
                                   "staff_id": staff_id, "reason_at": reason_at, "state": "pending", "created_at": now}
                                  for store_id, customer_id, sale_id, staff_id, reason_at in owed])


def owe_sale_survey(session, sale) -> None:
    owed = owed_for_sale(sale)
    if owed is not None:
        owe_surveys(session, [owed])


# Built once per database (core/models/prepared.py): every sale with a buyer asks it.
SURVEY_OWED = Prepared(lambda dialect: insert_for(dialect, Survey.__table__)
                       .on_conflict_do_nothing(index_elements=["sale_id"]))


# --- the signed link ----------------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def survey_token(survey_id: int) -> str:
    return _serializer().dumps(survey_id)


def survey_from_token(session, token: str) -> Survey | None:
    try:
        survey_id = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(survey_id, int) or not 0 < survey_id < 2**31:
        return None
    return session.get(Survey, survey_id)


def survey_link(survey_id: int) -> dict:
    path = f"/feedback/survey/{survey_token(survey_id)}"
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return {"path": path, "url": base + path if base else path}


def survey_texts(after_complaint: bool, url: str) -> dict:
    """What the customer reads, in Chinese and English (customer_notification's `texts`)."""
    if after_complaint:
        return {"zh": ("您的问题解决了吗？", f"{{{{ name }}}}，关于您在{{{{ store }}}}的反馈，处理结果您满意吗？请告诉我们：{url}"),
                "en": ("Was your complaint resolved?",
                       f"{{{{ name }}}}, were you satisfied with how {{{{ store }}}} handled your complaint? Tell us: {url}")}
    return {"zh": ("请为本次服务打分", f"{{{{ name }}}}，感谢光临{{{{ store }}}}！请花一分钟为本次服务打分：{url}"),
            "en": ("How did we do?", f"{{{{ name }}}}, thank you for visiting {{{{ store }}}}! Please rate our service in a minute: {url}")}


# --- the job --------------------------------------------------------------------------------------------

def send_due_surveys(session, registry, now: datetime | None = None, store_id: int | None = None) -> dict:
    """Send what is due in every store with feedback on (or in `store_id` alone); commits per
    survey. Returns counts."""
    now = now or utcnow()
    counts = {"sent": 0, "no_channel": 0, "skipped": 0}
    enabled = select(StorePlugin.store_id).where(StorePlugin.plugin == "feedback", StorePlugin.enabled.is_(True))
    if store_id is not None:
        enabled = enabled.where(StorePlugin.store_id == store_id)
    store_ids = session.scalars(enabled)
    for store in session.scalars(select(Store).where(Store.id.in_(list(store_ids))).order_by(Store.id)).all():
        settings = registry.settings(store, "feedback")
        ctx = HookContext(session=session, store=store, actor="feedback.survey", registry=registry, plugin="feedback")
        for survey in _due(session, store, settings, now):
            outcome = _send(session, ctx, survey, settings, now)
            counts[outcome] += 1
            session.commit()
    return counts


def _due(session, store, settings: dict, now: datetime) -> list[Survey]:
    pending = select(Survey).where(Survey.store_id == store.id, Survey.state == "pending")
    after_sale, after_complaint = settings["survey_after_sale_days"], settings["survey_after_complaint_days"]
    due = []
    sale_q = pending.where(Survey.sale_id.isnot(None), Survey.complaint_id.is_(None))
    if after_sale:
        sale_q = sale_q.where(Survey.reason_at <= now - timedelta(days=after_sale))
    due += session.scalars(sale_q.order_by(Survey.id).limit(BATCH)).all()
    complaint_q = pending.where(Survey.complaint_id.isnot(None))
    if after_complaint:
        complaint_q = complaint_q.where(Survey.reason_at <= now - timedelta(days=after_complaint))
    due += session.scalars(complaint_q.order_by(Survey.id).limit(BATCH)).all()
    return due


def _send(session, ctx, survey: Survey, settings: dict, now: datetime) -> str:
    after_complaint = survey.complaint_id is not None
    off = not (settings["survey_after_complaint_days"] if after_complaint else settings["survey_after_sale_days"])
    customer = session.get(Customer, survey.customer_id) if survey.customer_id else None
    if off or customer is None or customer.erased_at is not None or (not after_complaint and _surveyed_lately(
            session, survey, now - timedelta(days=settings["survey_min_gap_days"]))):
        survey.state = "skipped"
        return "skipped"
    topic = "feedback.survey_after_complaint" if after_complaint else "feedback.survey_after_sale"
    link = survey_link(survey.id)
    data = {"survey_id": survey.id, "sale_id": survey.sale_id, "complaint_id": survey.complaint_id,
            "store": ctx.store.code, "store_name": ctx.store.name, **{f"link_{k}": v for k, v in link.items()},
            "texts": survey_texts(after_complaint, link["url"])}
    if messages.notify_customer(ctx, customer, topic, data):
        survey.state, survey.sent_at = "sent", now
        return "sent"
    survey.state = "no_channel"
    return "no_channel"


def _surveyed_lately(session, survey: Survey, since: datetime) -> bool:
    """Seed 002's "don't disturb": at most one sale survey per customer per gap."""
    other = aliased(Survey)
    return bool(session.scalar(select(exists().where(other.customer_id == survey.customer_id, other.id != survey.id,
                                                     other.state.in_(("sent", "answered")),
                                                     other.sent_at >= since))))
