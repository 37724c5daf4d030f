"""Membership's contribution to staff performance (`kpi_metrics`): new members signed up.

A member counts for salesperson S in store X over local days first..last (X's calendar) when
their enrolment — the first time they reached a tier, `Member.enrolled_at` — falls in those days
and was credited to S in X: the crossing sale's store and salesperson for an enrolment by
spend, the store and signed-in person for an enrolment by hand (see `services.change_tier`).
Enrolments by a job (the yearly review, counting past purchases) are credited to nobody."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from plugins.membership.models import Member

NEW_MEMBERS = "membership.new_members"


def local_bounds(tz_name: str, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(tz_name)
    return (datetime.combine(first_day, time(0), tz).astimezone(timezone.utc),
            datetime.combine(last_day + timedelta(days=1), time(0), tz).astimezone(timezone.utc))


def new_members(session, store, staff_id: int, first_day: date, last_day: date) -> int:
    start, end = local_bounds(store.timezone, first_day, last_day)
    return int(session.scalar(select(func.count()).select_from(Member).where(
        Member.enrolled_staff_id == staff_id, Member.enrolled_store_id == store.id,
        Member.enrolled_at >= start, Member.enrolled_at < end)))
