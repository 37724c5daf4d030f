"""Date filters for the admin lists on the store's calendar.

Times are stored in UTC (`UTCDateTime`, which Flask-Admin does not know, so it makes no filters
for it). A day picked in the admin is a day on the current store's clock (the chain view uses
Asia/Shanghai, as `local_datetime` does): "from 3 March" starts at 00:00 in Shanghai, which is
16:00 UTC the day before."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.model.filters import BaseDateBetweenFilter, BaseDateFilter
from flask_babel import lazy_gettext as _l

from core.admin.formatting import DEFAULT_TZ


def local_day_start(day: date) -> datetime:
    """00:00 of `day` on the current store's clock, as an aware UTC time."""
    from core.admin.base import current_store

    tz = ZoneInfo(getattr(current_store(), "timezone", None) or DEFAULT_TZ)
    return datetime.combine(day, time.min, tz).astimezone(timezone.utc)


class _LocalDay:
    """`expression` is the UTC time column, or a callable building it per request (it may
    depend on the store being looked at); `column` is what Flask-Admin keys the filter on."""

    def __init__(self, column, name, expression=None, **kwargs):
        super().__init__(column, name, **kwargs)
        self.expression = expression if expression is not None else column

    def moment(self):
        return self.expression() if callable(self.expression) else self.expression


class LocalDayFrom(_LocalDay, BaseSQLAFilter, BaseDateFilter):
    def apply(self, query, value, alias=None):
        return query.filter(self.moment() >= local_day_start(value))

    def operation(self):
        return _l("from")


class LocalDayUntil(_LocalDay, BaseSQLAFilter, BaseDateFilter):
    """Up to and including that day."""

    def apply(self, query, value, alias=None):
        return query.filter(self.moment() < local_day_start(value + timedelta(days=1)))

    def operation(self):
        return _l("until")


class LocalDayBetween(_LocalDay, BaseSQLAFilter, BaseDateBetweenFilter):
    """Both days included."""

    def __init__(self, column, name, expression=None, **kwargs):
        super().__init__(column, name, expression, data_type="daterangepicker", **kwargs)

    def apply(self, query, value, alias=None):
        first, last = value
        moment = self.moment()
        return query.filter(moment >= local_day_start(first), moment < local_day_start(last + timedelta(days=1)))

    def operation(self):
        return _l("between")


def local_day_filters(column, name, expression=None) -> list:
    return [cls(column, name, expression) for cls in (LocalDayFrom, LocalDayUntil, LocalDayBetween)]
