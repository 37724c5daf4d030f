"""SLA arithmetic. Deadlines count elapsed time (a DST change does not stretch or shrink them):
due = made + N hours, compared in UTC; a person sees the boundary on the store's wall clock,
where across a DST change "24 hours later" reads an hour off the same clock time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, or_

from plugins.feedback.models import OPEN_STATES, Complaint


def deadlines(made_at: datetime, settings: dict) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a complaint made at `made_at`. In UTC: Python
    adds a timedelta to a zoned time on the wall clock, which would move a deadline by the
    DST hour."""
    made_at = made_at.astimezone(timezone.utc)
    return (made_at + timedelta(hours=settings["first_response_hours"]),
            made_at + timedelta(days=settings["resolution_days"]))


def next_deadline(complaint: Complaint) -> datetime | None:
    """The deadline that matters now: the first response until someone answered, then the resolution."""
    if complaint.state not in OPEN_STATES:
        return None
    if complaint.first_response_at is None:
        return complaint.first_response_due_at
    return complaint.resolution_due_at


def sla_state(complaint: Complaint, now: datetime, due_soon_hours: int = 4) -> str:
    """on_track / due_soon / overdue while open; met / missed once resolved or closed.
    Exactly on the deadline is still in time: "within 24 hours" includes the 24th hour's end."""
    if complaint.state not in OPEN_STATES:
        done = complaint.resolved_at
        first_ok = complaint.first_response_at is not None and complaint.first_response_at <= complaint.first_response_due_at
        return "met" if done is not None and done <= complaint.resolution_due_at and first_ok else "missed"
    deadline = next_deadline(complaint)
    if now > deadline:
        return "overdue"
    if deadline - now <= timedelta(hours=due_soon_hours):
        return "due_soon"
    return "on_track"


def next_deadline_column():
    """`next_deadline` as SQL, for sorting the queue and filtering by SLA state."""
    return case((Complaint.first_response_at.is_(None), Complaint.first_response_due_at),
                else_=Complaint.resolution_due_at)


def sla_clause(state: str, now: datetime, due_soon_hours: int = 4):
    """A WHERE clause for complaints in SLA `state` at `now` (the same rule as `sla_state`)."""
    deadline = next_deadline_column()
    is_open = Complaint.state.in_(OPEN_STATES)
    soon = now + timedelta(hours=due_soon_hours)
    if state == "overdue":
        return and_(is_open, deadline < now)
    if state == "due_soon":
        return and_(is_open, deadline >= now, deadline <= soon)
    if state == "on_track":
        return and_(is_open, deadline > soon)
    done = ~is_open
    in_time = and_(Complaint.resolved_at.isnot(None), Complaint.resolved_at <= Complaint.resolution_due_at,
                   Complaint.first_response_at.isnot(None), Complaint.first_response_at <= Complaint.first_response_due_at)
    if state == "met":
        return and_(done, in_time)
    return and_(done, ~in_time) if state == "missed" else or_(False)
