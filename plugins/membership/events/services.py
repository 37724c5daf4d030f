"""Rules of member events (会员品鉴会): plain functions on a session.

An event invites the members of its lowest tier and every tier above. Registration opens
first for the highest tier, at `registration_opens_at`; each tier below opens `tier_lead_days`
later than the one above it (gold, then silver 3 days later, then ordinary 3 days after that).
Invitations are written set-based (one INSERT … SELECT per tier; sending them again invites
only members who were not invited yet, e.g. newly upgraded) and told to the member through the
`customer_notification` hook (campaigns' channels, respecting consent). Registration locks
the event row, so two counters never give away the last place twice; a member registers once
(again: the same registration), may cancel, and a cancelled place is free again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import func, select

from core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from core.models import Customer, utcnow
from plugins.membership import services
from plugins.membership.events.models import EventInvitation, EventRegistration, MemberEvent
from plugins.membership.models import Member, Tier

TOPIC = "membership.event_invitation"


def save_event(session, data: dict, event: MemberEvent | None = None) -> MemberEvent:
    event = event or MemberEvent(tier_lead_days=3)
    for key in ("name", "store_id", "starts_at", "capacity", "lowest_tier_id", "registration_opens_at",
                "tier_lead_days", "note"):
        if key in data:
            setattr(event, key, data[key])
    errors = {}
    if not (event.name or "").strip():
        errors["name"] = ["Name the event."]
    if not event.capacity or event.capacity < 1:
        errors["capacity"] = ["At least 1 place."]
    if event.starts_at is None or event.registration_opens_at is None:
        errors["starts_at"] = ["Give when it starts and when registration opens."]
    elif event.registration_opens_at >= event.starts_at:
        errors["registration_opens_at"] = ["Registration opens before the event starts."]
    if event.lowest_tier_id is None or session.get(Tier, event.lowest_tier_id) is None:
        errors["lowest_tier_id"] = ["Pick the lowest tier invited."]
    if event.tier_lead_days is None or not 0 <= event.tier_lead_days <= 60:
        errors["tier_lead_days"] = ["From 0 to 60 days."]
    if errors:
        raise InvalidInput("the event is not valid", fields=errors)
    session.add(event)
    session.flush()
    return event


def event_or_404(session, event_id: int, *, lock: bool = False) -> MemberEvent:
    """An event held in one of the caller's stores (core.access.caller_store_ids: every store
    for a job), or NotFound: another branch's event is not this counter's to read or fill."""
    from core.access import caller_store_ids

    stmt = select(MemberEvent).where(MemberEvent.id == event_id)
    store_ids = caller_store_ids()
    if store_ids is not None:
        stmt = stmt.where(MemberEvent.store_id.in_(store_ids))
    if lock:
        stmt = stmt.with_for_update()
    event = session.scalars(stmt).first() if 0 < event_id < 2**31 else None
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event


def opening_times(session, event: MemberEvent) -> list[tuple[Tier, datetime]]:
    """(tier, when its members may register), highest tier first."""
    lowest = session.get(Tier, event.lowest_tier_id)
    invited = [t for t in services.active_tiers(session) if t.threshold >= lowest.threshold][::-1]
    return [(tier, event.registration_opens_at + timedelta(days=i * event.tier_lead_days))
            for i, tier in enumerate(invited)]


def invite(session, event: MemberEvent, notify_for: Callable[[Customer], Callable] | None = None) -> dict:
    """Invite every member of the invited tiers not invited yet; tell each new invitee.
    Returns {"invited": new invitations, "notified": told through a channel}."""
    now = utcnow()
    invited = 0
    for tier, opens_at in opening_times(session, event):
        already = select(EventInvitation.id).where(EventInvitation.event_id == event.id,
                                                   EventInvitation.customer_id == Member.customer_id).exists()
        chosen = select(sa.literal(event.id), Member.customer_id, Member.tier_id,
                        sa.literal(opens_at, type_=EventInvitation.opens_at.type), sa.literal(False),
                        sa.literal(now, type_=EventInvitation.invited_at.type)
                        ).where(Member.tier_id == tier.id, ~already)
        # Counted through RETURNING: PostgreSQL's driver gives no rowcount for INSERT … SELECT.
        invited += len(session.execute(sa.insert(EventInvitation).from_select(
            ["event_id", "customer_id", "tier_id", "opens_at", "notified", "invited_at"], chosen)
            .returning(EventInvitation.id)).all())
    notified = 0
    if notify_for is not None:
        fresh = session.execute(select(EventInvitation, Customer).join(Customer, Customer.id == EventInvitation.customer_id)
                                .where(EventInvitation.event_id == event.id, EventInvitation.notified.is_(False),
                                       Customer.erased_at.is_(None))).all()
        for invitation, customer in fresh:  # one message each: campaigns sends per person, with consent
            if notify_for(customer)(customer, TOPIC, _message(event, invitation, customer)):
                invitation.notified = True
                notified += 1
    session.flush()
    return {"invited": invited, "notified": notified}


def _message(event: MemberEvent, invitation: EventInvitation, customer: Customer) -> dict:
    tz = event.store.timezone if event.store is not None else "Asia/Shanghai"
    starts = services.local_date(event.starts_at, tz)
    opens = services.local_date(invitation.opens_at, tz)
    where = f"（{event.store.name}）" if event.store is not None else ""
    return {"title": f"会员品鉴会邀请：{event.name}",
            "text": f"{customer.name or '您好'}，诚邀您参加{event.name}{where}，{starts:%Y-%m-%d}举行，名额{event.capacity}位，"
                    f"{opens:%Y-%m-%d}起可报名。",
            "event": event.name, "starts_on": starts.isoformat(), "opens_on": opens.isoformat()}


def register(session, event_id: int, customer: Customer, now: datetime | None = None) -> EventRegistration:
    """Register an invited member whose tier's registration is open, while places are left."""
    now = now or utcnow()
    event = event_or_404(session, event_id, lock=True)
    if now >= event.starts_at:
        raise Unprocessable("the event has started", fields={"event": ["Registration is closed: the event has started."]})
    invitation = session.scalars(select(EventInvitation).where(EventInvitation.event_id == event.id,
                                                               EventInvitation.customer_id == customer.id)).first()
    if invitation is None:
        raise Unprocessable("not invited", fields={"customer_id": ["This member is not invited to this event."]})
    if now < invitation.opens_at:
        raise Unprocessable("registration not open yet", fields={"customer_id": [
            f"Registration opens for this member's tier at {invitation.opens_at.isoformat()}."]},
            details={"opens_at": invitation.opens_at.isoformat()})
    row = session.scalars(select(EventRegistration).where(EventRegistration.event_id == event.id,
                                                          EventRegistration.customer_id == customer.id)).first()
    if row is not None and row.state == "registered":
        return row
    if taken(session, event.id) >= event.capacity:
        raise Conflict("the event is full", fields={"event": [f"All {event.capacity} places are taken."]},
                       details={"capacity": event.capacity})
    row = row or EventRegistration(event_id=event.id, customer_id=customer.id)
    row.state, row.registered_at = "registered", now
    session.add(row)
    session.flush()
    return row


def cancel(session, event_id: int, customer: Customer) -> EventRegistration:
    event = event_or_404(session, event_id, lock=True)
    row = session.scalars(select(EventRegistration).where(EventRegistration.event_id == event.id,
                                                          EventRegistration.customer_id == customer.id)).first()
    if row is None:
        raise NotFound("not registered")
    row.state = "cancelled"
    session.flush()
    return row


def taken(session, event_id: int) -> int:
    return session.scalar(select(func.count()).select_from(EventRegistration).where(
        EventRegistration.event_id == event_id, EventRegistration.state == "registered"))


def view(session, event: MemberEvent) -> dict:
    return {"id": event.id, "name": event.name, "store": event.store.code if event.store else None,
            "starts_at": event.starts_at, "capacity": event.capacity, "registered": taken(session, event.id),
            "opens": [{"tier": t.code, "opens_at": at} for t, at in opening_times(session, event)]}


def open_for(session, customer_id: int, now: datetime | None = None) -> list[tuple[MemberEvent, EventInvitation, str | None]]:
    """Upcoming events a member is invited to, with their invitation and registration state."""
    now = now or utcnow()
    rows = session.execute(
        select(MemberEvent, EventInvitation, EventRegistration.state)
        .join(EventInvitation, EventInvitation.event_id == MemberEvent.id)
        .outerjoin(EventRegistration, sa.and_(EventRegistration.event_id == MemberEvent.id,
                                              EventRegistration.customer_id == EventInvitation.customer_id))
        .where(EventInvitation.customer_id == customer_id, MemberEvent.starts_at > now)
        .order_by(MemberEvent.starts_at)).all()
    return [tuple(r) for r in rows]


def export(session, customer_id: int) -> list[dict]:
    rows = session.execute(select(MemberEvent.name, EventRegistration.state, EventRegistration.registered_at)
                           .join(EventRegistration, EventRegistration.event_id == MemberEvent.id)
                           .where(EventRegistration.customer_id == customer_id)).all()
    return [{"event": n, "state": s, "registered_at": at.isoformat()} for n, s, at in rows]


def erase(session, customer_id: int) -> None:
    for model in (EventRegistration, EventInvitation):
        session.execute(sa.delete(model).where(model.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> dict[str, int]:
    moved = {}
    for model in (EventRegistration, EventInvitation):
        mine = select(model.event_id).where(model.customer_id == kept_id)
        session.execute(sa.delete(model).where(model.customer_id == merged_id, model.event_id.in_(mine)))
        count = session.execute(sa.update(model).where(model.customer_id == merged_id)
                                .values(customer_id=kept_id)).rowcount
        if count:
            moved[model.__tablename__] = count
    return moved
