"""What a recorded sale may hold, whatever its source (till, batch, import): amounts that fit
`Numeric(12,2)` and a time between 2000 and the store's allowed clock skew ahead of now
(a till's clock may run a little fast; a sale dated 9999-12-31 would wreck every
"days since the last purchase")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from core.errors import InvalidInput
from core.models.types import utcnow

# Numeric(12,2): ten digits before the point.
MONEY_MAX = Decimal("9999999999.99")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
DEFAULT_CLOCK_AHEAD_MINUTES = 24 * 60


def clock_ahead(store) -> timedelta:
    minutes = getattr(store, "sale_clock_ahead_minutes", None)
    return timedelta(minutes=DEFAULT_CLOCK_AHEAD_MINUTES if minutes is None else minutes)


def check_sale_bounds(store, sale) -> None:
    """Raise InvalidInput (400) naming the field when `sale` cannot be stored as given."""
    errors: dict[str, list[str]] = {}
    when = sale.occurred_at
    if when is not None:
        moment = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        latest = utcnow() + clock_ahead(store)
        if moment < EARLIEST:
            errors["occurred_at"] = ["Must be 2000-01-01 or later."]
        elif moment > latest:
            errors["occurred_at"] = [f"Is in the future: at most {_minutes(clock_ahead(store))} ahead of now "
                                     f"(the store's allowed clock skew)."]
    for i, line in enumerate(sale.lines):
        if abs(line.amount) > MONEY_MAX:
            errors[f"lines.{i}.quantity"] = [f"The line's amount is above {MONEY_MAX}."]
    for name in ("subtotal", "total"):
        value = getattr(sale, name)
        if value is not None and abs(value) > MONEY_MAX:
            errors.setdefault("lines", []).append(f"The sale's {name} {value} is above {MONEY_MAX}.")
    if errors:
        raise InvalidInput("the sale is out of range", fields=errors)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


__all__ = ["DEFAULT_CLOCK_AHEAD_MINUTES", "EARLIEST", "MONEY_MAX", "check_sale_bounds", "clock_ahead"]
