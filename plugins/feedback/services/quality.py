"""Service quality: per staff member and period, what staff_kpi shows (via `kpi_metrics`), and
the store-level figures of the dashboard and charts. Every figure is one aggregate query."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, select, true

from core.models import Customer
from plugins.feedback.models import OPEN_STATES, Complaint, FeedbackEntry
from plugins.feedback.services.sla import sla_clause

TWO = Decimal("0.01")


def utc_range(period: tuple[date, date], tz: str) -> tuple[datetime, datetime]:
    """(start, end) local dates, both included, as a half-open UTC range."""
    zone = ZoneInfo(tz)
    start = datetime.combine(period[0], time.min, zone)
    end = datetime.combine(period[1] + timedelta(days=1), time.min, zone)
    return start, end


def _rate(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part or 0) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def staff_metrics(session, staff_id: int, period: tuple[date, date], store=None) -> dict:
    """Average rating and ratings received; complaints about them; complaints they handled
    (resolved) and the share resolved in time; first responses they gave and the share in time
    (投诉处理及时率)."""
    start, end = utc_range(period, store.timezone if store is not None else "Asia/Shanghai")
    where_store = (lambda col: col == store.id) if store is not None else (lambda col: true())
    avg, ratings = session.execute(
        select(func.avg(FeedbackEntry.rating), func.count(FeedbackEntry.id))
        .where(FeedbackEntry.staff_id == staff_id, FeedbackEntry.created_at >= start, FeedbackEntry.created_at < end,
               where_store(FeedbackEntry.store_id))).one()
    handled, handled_in_time = session.execute(
        select(func.count(Complaint.id),
               func.sum(case((Complaint.resolved_at <= Complaint.resolution_due_at, 1), else_=0).cast(Integer)))
        .where(Complaint.handled_by_id == staff_id, Complaint.resolved_at >= start, Complaint.resolved_at < end,
               where_store(Complaint.store_id))).one()
    answered, answered_in_time = session.execute(
        select(func.count(Complaint.id),
               func.sum(case((Complaint.first_response_at <= Complaint.first_response_due_at, 1), else_=0).cast(Integer)))
        .where(Complaint.first_responder_id == staff_id, Complaint.first_response_at >= start,
               Complaint.first_response_at < end, where_store(Complaint.store_id))).one()
    about = session.scalar(select(func.count(Complaint.id)).where(
        Complaint.staff_id == staff_id, Complaint.created_at >= start, Complaint.created_at < end,
        where_store(Complaint.store_id)))
    return {
        "feedback.avg_rating": Decimal(str(avg)).quantize(TWO, rounding=ROUND_HALF_UP) if avg is not None else None,
        "feedback.ratings": ratings,
        "feedback.complaints_about": about,
        "feedback.complaints_handled": handled,
        "feedback.resolution_on_time_rate": _rate(handled_in_time, handled),
        "feedback.first_response_on_time_rate": _rate(answered_in_time, answered),
    }


# --- store figures -----------------------------------------------------------------------------------

def open_by_sla(session, store_ids, now: datetime, due_soon_hours: int) -> dict[str, int]:
    out = {}
    for state in ("overdue", "due_soon", "on_track"):
        stmt = select(func.count(Complaint.id)).where(sla_clause(state, now, due_soon_hours))
        if store_ids is not None:
            stmt = stmt.where(Complaint.store_id.in_(store_ids))
        out[state] = session.scalar(stmt) or 0
    return out


def average_rating(session, store_ids, start: datetime, end: datetime) -> tuple[Decimal | None, int]:
    stmt = select(func.avg(FeedbackEntry.rating), func.count(FeedbackEntry.id)).where(
        FeedbackEntry.created_at >= start, FeedbackEntry.created_at < end)
    if store_ids is not None:
        stmt = stmt.where(FeedbackEntry.store_id.in_(store_ids))
    avg, n = session.execute(stmt).one()
    return (Decimal(str(avg)).quantize(TWO, rounding=ROUND_HALF_UP) if avg is not None else None), n


def weekly_series(session, store_ids, weeks: int, tz: str, now: datetime) -> dict:
    """Per local week (Monday first), the last `weeks`: feedback and complaints per category and
    the average rating. The rows of the window are read once, aggregated in Python by week
    (week arithmetic in SQL differs between SQLite and PostgreSQL)."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first_monday = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    start = datetime.combine(first_monday, time.min, zone)
    labels = [(first_monday + timedelta(weeks=i)) for i in range(weeks)]
    index = {d: i for i, d in enumerate(labels)}

    def week_of(moment: datetime) -> int:
        local = moment.astimezone(zone).date()
        return index.get(local - timedelta(days=local.weekday()), -1)

    def scoped(stmt, col):
        return stmt.where(col.in_(store_ids)) if store_ids is not None else stmt

    categories: dict[str, list[int]] = {}
    rating_sum, rating_n = [0] * weeks, [0] * weeks
    for at, category, rating in session.execute(scoped(
            select(FeedbackEntry.created_at, FeedbackEntry.category, FeedbackEntry.rating)
            .where(FeedbackEntry.created_at >= start), FeedbackEntry.store_id)):
        w = week_of(at)
        if w < 0:
            continue
        rating_sum[w] += rating
        rating_n[w] += 1
        if rating <= 3:  # the categories chart counts what people were unhappy about
            categories.setdefault(category, [0] * weeks)[w] += 1
    for at, category in session.execute(scoped(select(Complaint.created_at, Complaint.category)
                                               .where(Complaint.created_at >= start), Complaint.store_id)):
        w = week_of(at)
        if w >= 0:
            categories.setdefault(category, [0] * weeks)[w] += 1
    ratings = [round(s / n, 2) if n else None for s, n in zip(rating_sum, rating_n)]
    return {"weeks": [d.isoformat() for d in labels], "categories": categories, "ratings": ratings, "counts": rating_n}


# --- flags ---------------------------------------------------------------------------------------------

def customers_with_open_last_complaint():
    """Customer ids whose latest complaint (anywhere in the chain) is not resolved yet."""
    latest = (select(Complaint.customer_id, func.max(Complaint.id).label("last_id"))
              .where(Complaint.customer_id.isnot(None)).group_by(Complaint.customer_id).subquery())
    return (select(latest.c.customer_id)
            .join(Complaint, and_(Complaint.id == latest.c.last_id))
            .where(Complaint.state.in_(OPEN_STATES)))


def has_open_last_complaint(session, customer_id: int) -> Complaint | None:
    last = session.scalars(select(Complaint).where(Complaint.customer_id == customer_id)
                           .order_by(Complaint.id.desc()).limit(1)).first()
    return last if last is not None and last.state in OPEN_STATES else None


def flag_filter(stmt):
    return stmt.where(Customer.id.in_(customers_with_open_last_complaint()))
