"""Shared bits of the membership rules: constants, rounding, dates (no database)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import scoped_session

from core.models import Customer
from plugins.membership.models import Program

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
SOURCE = "membership"


def transaction_key(session) -> int:
    """Which transaction `session` is in now (for what holds only within it)."""
    real = session() if isinstance(session, scoped_session) else session
    return id(real.get_transaction())


def cents_down(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def whole_points(value: Decimal) -> int:
    """Points are whole: fractions are dropped (rounded down), never rounded up."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_DOWN))


# --- dates -----------------------------------------------------------------------------------------

def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def birthday_in(year: int, month: int, day: int) -> date:
    # Someone born on 29 February celebrates on 28 February in a year that is not a leap year.
    if month == 2 and day == 29 and not _leap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_birthday(customer: Customer | None, day: date) -> bool:
    if customer is None or not (customer.birth_month and customer.birth_day):
        return False
    return birthday_in(day.year, customer.birth_month, customer.birth_day) == day


def in_birthday_week(customer: Customer | None, day: date, half_width: int) -> bool:
    """Within `half_width` days of the birthday (the week around it with the default 3)."""
    if customer is None or not (customer.birth_month and customer.birth_day):
        return False
    for year in (day.year - 1, day.year, day.year + 1):
        if abs((birthday_in(year, customer.birth_month, customer.birth_day) - day).days) <= half_width:
            return True
    return False


def expiry_for(program: Program, earned_on: date) -> date | None:
    """Default: the end of the year after the one the points were earned in."""
    if not program.expiry_years:
        return None
    return date(earned_on.year + program.expiry_years, 12, 31)


def _actor_name(user, actor) -> str:
    return getattr(user, "username", None) or str(actor or "system")[:100]


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
