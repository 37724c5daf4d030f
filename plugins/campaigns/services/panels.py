"""What campaigns shows and hands over about one person: the customer page's panel, the
dashboard figures, and the personal-data hooks (export, erasure, merge) over every table that
refers to a customer: messages, outbox entries, recipients, coupons, redemptions, call tasks."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update

from core.models import utcnow
from plugins.campaigns.models import CallTask, Coupon, Message, OutboxEntry, Recipient, Redemption

PERSONAL_TABLES = (Message, OutboxEntry, Recipient, Coupon, Redemption, CallTask)


def customer_view(session, store, customer, limit: int = 10) -> dict:
    messages = list(session.scalars(select(Message).where(Message.customer_id == customer.id, Message.status == "sent")
                                    .order_by(Message.id.desc()).limit(limit)))
    held = list(session.scalars(select(Coupon).where(Coupon.customer_id == customer.id, Coupon.status == "issued")
                                .order_by(Coupon.id.desc()).limit(limit)))
    now = utcnow()
    return {"messages": messages, "coupons": [c for c in held if c.expires_at is None or c.expires_at > now],
            "store": store}


def dashboard(session, store, period) -> list[dict]:
    if store is None:
        return []
    zone = ZoneInfo(store.timezone)
    start = datetime.combine(period[0], time(0), tzinfo=zone)
    end = datetime.combine(period[1], time(23, 59, 59), tzinfo=zone)
    sent = session.scalar(select(func.count()).select_from(Message).where(
        Message.store_id == store.id, Message.status == "sent", Message.sent_at >= start, Message.sent_at <= end)) or 0
    used = session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.store_id == store.id, Redemption.restored_at.is_(None), Redemption.at >= start, Redemption.at <= end)) or 0
    from flask_babel import gettext as _

    return [{"title": _("Messages sent"), "value": f"{sent:,}"}, {"title": _("Coupons redeemed"), "value": f"{used:,}"}]


def export(session, customer) -> dict | None:
    messages = session.scalars(select(Message).where(Message.customer_id == customer.id).order_by(Message.id)).all()
    held = session.scalars(select(Coupon).where(Coupon.customer_id == customer.id).order_by(Coupon.id)).all()
    tasks = session.scalars(select(CallTask).where(CallTask.customer_id == customer.id).order_by(CallTask.id)).all()
    groups = session.execute(select(Recipient.campaign_id, Recipient.is_control)
                             .where(Recipient.customer_id == customer.id)).all()
    if not (messages or held or tasks or groups):
        return None
    return {
        "messages": [{"at": m.claimed_at.isoformat(), "channel": m.channel, "purpose": m.purpose, "topic": m.topic,
                      "subject": m.subject, "body": m.body, "status": m.status} for m in messages],
        "coupons": [{"code": c.code, "status": c.status, "expires_at": c.expires_at.isoformat() if c.expires_at else None}
                    for c in held],
        "call_tasks": [{"due_on": t.due_on.isoformat(), "rule": t.rule, "outcome": t.outcome, "note": t.note}
                       for t in tasks],
        "campaigns": [{"campaign": cid, "group": "control" if ctl else "target"} for cid, ctl in groups],
    }


def erase(session, customer_id: int) -> None:
    """Messages and outbox entries carry addresses and personal text: removed with the person,
    as are recipients, call tasks and unused personal coupons. Redemptions stay (they are the
    sale's record) without the person."""
    session.execute(delete(OutboxEntry).where(OutboxEntry.customer_id == customer_id))
    session.execute(delete(Message).where(Message.customer_id == customer_id))
    session.execute(delete(Recipient).where(Recipient.customer_id == customer_id))
    session.execute(delete(CallTask).where(CallTask.customer_id == customer_id))
    session.execute(update(Redemption).where(Redemption.customer_id == customer_id).values(customer_id=None))
    session.execute(delete(Coupon).where(Coupon.customer_id == customer_id, Coupon.status != "used"))
    session.execute(update(Coupon).where(Coupon.customer_id == customer_id).values(customer_id=None))


def merge(session, kept, merged) -> None:
    """Everything of `merged` moves to `kept`; where both were in one campaign, kept's row stays
    (its group was fixed first) and the message of `merged` for the same step goes."""
    both = select(Recipient.campaign_id).where(Recipient.customer_id == kept.id)
    session.execute(delete(Recipient).where(Recipient.customer_id == merged.id, Recipient.campaign_id.in_(both)))
    session.execute(update(Recipient).where(Recipient.customer_id == merged.id).values(customer_id=kept.id))
    kept_steps = select(Message.campaign_id).where(Message.customer_id == kept.id, Message.campaign_id.isnot(None))
    session.execute(delete(Message).where(Message.customer_id == merged.id, Message.campaign_id.in_(kept_steps)))
    for model in (Message, OutboxEntry, Coupon, Redemption, CallTask):
        session.execute(update(model).where(model.customer_id == merged.id).values(customer_id=kept.id))
