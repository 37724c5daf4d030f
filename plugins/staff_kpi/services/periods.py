"""Periods in the store's calendar: local days turned into UTC bounds, and the stretches of
constant UTC offset a range of instants falls into (so SQL can bucket instants into local days
the same way on SQLite, which has no time zones, and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal_column

UTC = timezone.utc


@dataclass(frozen=True)
class Period:
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.start, self.end


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def period_for(tz: ZoneInfo, first_day: date, last_day: date) -> Period:
    return Period(first_day, last_day, local_midnight(first_day, tz), local_midnight(last_day + timedelta(days=1), tz))


def expand(kind: str, day: date, to: date | None = None) -> tuple[date, date]:
    """The local days of the day / ISO week (Monday first) / month containing `day`, or day..to."""
    if kind == "day":
        return day, day
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if kind == "month":
        return month_days(day.strftime("%Y-%m"))
    return day, to or day


def month_days(month: str) -> tuple[date, date]:
    year, mon = (int(part) for part in month.split("-"))
    first = date(year, mon, 1)
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return first, following - timedelta(days=1)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def offset_stretches(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    """[(from, to, minutes east of UTC)] covering [start, end): one stretch per UTC offset.
    Offsets change at most a few times a year, on a whole minute; each change is found by bisection."""
    def offset(moment: datetime) -> int:
        return int(moment.astimezone(tz).utcoffset().total_seconds() // 60)

    last = end - timedelta(microseconds=1)
    stretches, cursor, current, probe = [], start, offset(start), start
    while probe < end:
        nxt = min(probe + timedelta(days=1), last)
        if offset(nxt) == current:
            probe = nxt if nxt < last else end
            continue
        low, high = probe, nxt  # low has the old offset, high the new one
        while high - low > timedelta(minutes=1):
            mid = low + (high - low) / 2
            low, high = (mid, high) if offset(mid) == current else (low, mid)
        change = high.replace(second=0, microsecond=0)
        stretches.append((cursor, change, current))
        cursor, current, probe = change, offset(change), change
    stretches.append((cursor, end, current))
    return [s for s in stretches if s[0] < s[1]]


def local_day_sql(column, minutes: int, dialect: str):
    """SQL for the local date of UTC instant `column` at a fixed offset of `minutes`."""
    if dialect == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return cast(column + literal_column(f"interval '{int(minutes)} minutes'"), Date)


def plus_days_sql(column, days: int, dialect: str):
    """SQL for UTC instant `column` plus `days` days."""
    if dialect == "sqlite":
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff"; keep the fraction so comparisons stay exact.
        return func.strftime("%Y-%m-%d %H:%M:%f000", column, f"+{int(days)} days")
    return column + literal_column(f"interval '{int(days)} days'")
