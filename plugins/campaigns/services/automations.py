"""Care automations, each switchable per store (settings), run by a daily job after the
commit of the sales they react to (`run_for_store`):

- birthday greeting 3 days ahead (care: exempt from the cap);
- follow-up 3 days after a customer's first purchase in the store;
- follow-up 7 days after any purchase, then every 90 days while the customer buys nothing more
  (`purchase_followup`, off by default);
- festival greetings on the configured MM-DD dates (marketing: capped);
- win-back when the customer is at-risk or churned in the store, at most once a quarter, with an
  apology first when their last complaint is unresolved (the "open complaint" segment filter a
  feedback plugin offers through `segment_filters`, when there is one);
- a second-visit coupon after a first purchase;
- referral rewards for both referrer (`preferences["referred_by"]`, a customer id) and newcomer
  on the newcomer's first purchase.
A follow-up is a call task on the list of the staff member of the customer's last sale (or the
store's list), or a message, per `followup_mode`. Every action has a unique key, so a second run
on the same day does nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.access import visible_customers
from core.live_stores import live_customer
from core.classification.filters import class_condition
from core.models import Customer, Sale, Store, utcnow
from plugins.campaigns.models import CallTask, Message
from plugins.campaigns.services import coupons, messaging, notifications, segments


def local_today(store: Store, now: datetime) -> date:
    return now.astimezone(ZoneInfo(store.timezone)).date()


def _day_bounds(store: Store, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(store.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
    return start, start + timedelta(days=1)


def _customers(session, ids) -> list[Customer]:
    ids = list(ids)
    if not ids:
        return []
    return list(session.scalars(select(Customer).where(Customer.id.in_(ids), Customer.erased_at.is_(None))
                                .order_by(Customer.id)))


def _first_purchasers(session, store: Store, day: date) -> list[int]:
    """Customers whose first completed sale in the store was on `day` (store time)."""
    start, end = _day_bounds(store, day)
    first = (select(Sale.customer_id, func.min(Sale.occurred_at).label("first"))
             .where(Sale.store_id == store.id, Sale.customer_id.isnot(None), Sale.status == "completed")
             .group_by(Sale.customer_id).subquery())
    return list(session.scalars(select(first.c.customer_id).where(first.c.first >= start, first.c.first < end)))


def _last_staff(session, store: Store, customer_id: int):
    return session.scalar(select(Sale.staff_id).where(Sale.store_id == store.id, Sale.customer_id == customer_id)
                          .order_by(Sale.occurred_at.desc()).limit(1))


def follow_up(session, store: Store, customer: Customer, rule: str, key: str, due: date, settings: dict) -> bool:
    """A call task on a staff list, or a care message, per the store's `followup_mode`."""
    if settings["followup_mode"] == "message":
        return notifications.send_to_customer(session, store, customer, "care.followup", {}, settings, purpose="care",
                                              dedupe_key=key) is not None
    if session.scalar(select(CallTask.id).where(CallTask.dedupe_key == key)):
        return False
    session.add(CallTask(store_id=store.id, customer_id=customer.id, assignee_id=_last_staff(session, store, customer.id),
                         rule=rule, dedupe_key=key, due_on=due))
    session.flush()
    return True


def _gift(session, store, customer, topic, amount, reason, key, settings) -> bool:
    if session.scalar(select(Message.id).where(Message.dedupe_key == key)):
        return False
    issued = coupons.issue_for(session, store, customer, {"kind": "amount", "value": Decimal(amount), "valid_days": 30,
                                                          "reason": reason})
    sent = notifications.send_to_customer(session, store, customer, topic,
                                          {"coupon_code": issued["code"], "coupon_label": issued["label"],
                                           "expires_on": issued["expires_on"]}, settings, purpose="care", dedupe_key=key)
    return sent is not None


def run_for_store(session, store: Store, settings: dict, ctx=None, now: datetime | None = None,
                  day: date | None = None) -> dict:
    """Every switched-on rule for one store, for `day` (its local today unless given: a late
    scheduled run does the day it was due). Returns counts per rule."""
    now = now or utcnow()
    if messaging.in_quiet_hours(now, store.timezone, settings):
        return {}  # nobody is greeted at night
    today = day or local_today(store, now)
    done = {}
    seen = visible_customers([store.id])
    if not store.sandbox:  # a live store's greetings never reach a sandbox store's customers
        seen = seen & live_customer()

    if settings["birthday_greeting"]:
        ahead = today + timedelta(days=3)
        ids = session.scalars(select(Customer.id).where(seen, Customer.birth_month == ahead.month,
                                                        Customer.birth_day == ahead.day))
        done["birthday"] = sum(notifications.send_to_customer(
            session, store, c, "care.birthday", {}, settings, purpose="care",
            dedupe_key=f"birthday:{store.id}:{ahead.year}:{c.id}") is not None for c in _customers(session, ids))

    firsts = _first_purchasers(session, store, today - timedelta(days=3))
    if settings["first_purchase_followup"]:
        done["first_purchase"] = sum(follow_up(session, store, c, "first_purchase", f"first:{store.id}:{c.id}", today, settings)
                                     for c in _customers(session, firsts))
    newcomers = _first_purchasers(session, store, today - timedelta(days=1))
    if settings["second_visit_coupon"]:
        done["second_visit"] = sum(_gift(session, store, c, "care.second_visit", settings["second_visit_amount"],
                                         "second visit", f"second_visit:{store.id}:{c.id}", settings)
                                   for c in _customers(session, newcomers))
    if settings["referral_rewards"]:
        count = 0
        for newcomer in _customers(session, newcomers):
            referrer_id = (newcomer.preferences or {}).get("referred_by")
            referrer = session.get(Customer, int(referrer_id)) if str(referrer_id or "").isdigit() else None
            if referrer is None or referrer.erased_at is not None:
                continue
            for who in (newcomer, referrer):
                count += _gift(session, store, who, "care.referral", settings["referral_amount"], "referral",
                               f"referral:{newcomer.id}:{who.id}", settings)
        done["referral"] = count

    if settings["purchase_followup"]:
        start, end = _day_bounds(store, today - timedelta(days=7))
        week = session.scalars(select(Sale.customer_id).where(Sale.store_id == store.id, Sale.occurred_at >= start,
                                                              Sale.occurred_at < end, Sale.customer_id.isnot(None)).distinct())
        count = sum(follow_up(session, store, c, "purchase_week", f"week:{store.id}:{c.id}:{today.isoformat()}", today, settings)
                    for c in _customers(session, week))
        last = (select(Sale.customer_id, func.max(Sale.occurred_at).label("last")).where(
            Sale.store_id == store.id, Sale.customer_id.isnot(None)).group_by(Sale.customer_id).subquery())
        for days in (90, 180, 270, 360):
            start, end = _day_bounds(store, today - timedelta(days=days))
            ids = session.scalars(select(last.c.customer_id).where(last.c.last >= start, last.c.last < end))
            count += sum(follow_up(session, store, c, "quarterly", f"quarter:{store.id}:{c.id}:{today.isoformat()}", today,
                                   settings) for c in _customers(session, ids))
        done["purchase_followup"] = count

    if settings["festival_greetings"]:
        names = [f["name"] for f in settings["festivals"] if f["date"] == today.strftime("%m-%d")]
        if names:
            ids = session.scalars(select(Customer.id).where(seen))
            candidates = _customers(session, ids)
            full = messaging.over_cap(session, [c.id for c in candidates], now, store.timezone, settings)
            done["festival"] = sum(notifications.send_to_customer(
                session, store, c, "care.festival", {"coupon_label": names[0]}, settings, purpose="marketing",
                dedupe_key=f"festival:{store.id}:{today.isoformat()}:{c.id}") is not None
                for c in candidates if c.id not in full)

    if settings["winback"]:
        at_risk = select(Customer.id).where(seen, class_condition("lifecycle", "at_risk", [store.id])
                                            | class_condition("lifecycle", "churned", [store.id]))
        candidates = _customers(session, session.scalars(at_risk))
        quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
        complaint = next((f for n, f in segments.plugin_filters(ctx).items() if "open_complaint" in n), None)
        unhappy = set()
        if complaint is not None and candidates:
            unhappy = set(session.scalars(complaint["apply"](
                select(Customer.id).where(Customer.id.in_([c.id for c in candidates])), {}, ctx)))
        full = messaging.over_cap(session, [c.id for c in candidates], now, store.timezone, settings)
        count = 0
        for c in candidates:
            if c.id in full:
                continue
            topic = "care.apology" if c.id in unhappy else "care.winback"
            count += notifications.send_to_customer(session, store, c, topic, {}, settings, purpose="marketing",
                                                    dedupe_key=f"winback:{store.id}:{quarter}:{c.id}") is not None
        done["winback"] = count
    session.flush()
    return done


def record_outcome(session, task: CallTask, outcome: str, note: str | None, now=None) -> CallTask:
    task.outcome, task.note, task.done_at = outcome, note, now or utcnow()
    session.flush()
    return task


def followups_on_time(session, user_id: int, period: tuple[date, date]) -> dict:
    """For staff_kpi: of the call tasks on `user_id`'s list due in `period`, the share done by
    their due day (UTC date of completion)."""
    start, end = period
    due = select(CallTask).where(CallTask.assignee_id == user_id, CallTask.due_on >= start, CallTask.due_on <= end)
    tasks = list(session.scalars(due))
    if not tasks:
        return {}
    on_time = sum(1 for t in tasks if t.done_at is not None and t.done_at.date() <= t.due_on)
    return {"campaigns.followups_on_time": (Decimal(on_time) * 100 / len(tasks)).quantize(Decimal("0.1")),
            "campaigns.followups_done": sum(1 for t in tasks if t.done_at is not None)}
