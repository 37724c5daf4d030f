"""Sales statistics under /api/v1/analytics: series, product ranking, preferences, forecast."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from marshmallow import fields, validate, validates_schema, ValidationError

from core.analytics import forecast as fc
from core.analytics import stats
from core.api.http import endpoint, principal, resolve_store
from core.api.schemas import Money, Strict
from core.extensions import db
from core.models import utcnow

bp = Blueprint("analytics", __name__)
bp.storecrm_tag = "analytics"
MAX_DAYS = 3 * 366 + 31


class RangeQuery(Strict):
    store = fields.String(metadata={"description": "a store code; without it every store the caller works in"})
    date_from = fields.Date(data_key="from", metadata={"description": "first local date (default: 30 days ago)"})
    date_to = fields.Date(data_key="to", metadata={"description": "last local date (default: yesterday)"})

    @validates_schema
    def _order(self, data, **kwargs):
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            raise ValidationError({"from": ["Must not be after to."]})
        if first and last and (last - first).days > MAX_DAYS:
            raise ValidationError({"from": [f"At most {MAX_DAYS} days at once."]})


class SeriesQuery(RangeQuery):
    period = fields.String(load_default="day", validate=validate.OneOf(["day", "week", "month"]))


class RankingQuery(RangeQuery):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class ForecastQuery(Strict):
    store = fields.String()
    weeks = fields.Integer(load_default=4, validate=validate.Range(min=1, max=12))
    history_days = fields.Integer(load_default=182, validate=validate.Range(min=28, max=1100))


class SeriesRow(Strict):
    start = fields.Date()
    amount = Money()
    count = fields.Integer()
    average_ticket = Money()


class Totals(Strict):
    amount = Money()
    count = fields.Integer()
    average_ticket = Money()


class StoreSeries(Strict):
    store = fields.String(allow_none=True)
    rows = fields.List(fields.Nested(SeriesRow))
    totals = fields.Nested(Totals)


class SeriesOut(Strict):
    period = fields.String()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    stores = fields.List(fields.Nested(StoreSeries))
    all = fields.Nested(StoreSeries, metadata={"description": "every store of the answer together"})


class ProductRow(Strict):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    quantity = fields.Float()
    amount = Money()
    sales = fields.Integer()


class RankingOut(Strict):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    best = fields.List(fields.Nested(ProductRow))
    slowest = fields.List(fields.Nested(ProductRow))


class Slot(Strict):
    key = fields.Raw(metadata={"description": "hour 0-23, weekday mon-sun or season"})
    amount = Money()
    count = fields.Integer()


class CategoryAmount(Strict):
    category = fields.String()
    amount = Money()


class SeasonSlot(Slot):
    top_categories = fields.List(fields.Nested(CategoryAmount))


class PreferencesOut(Strict):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    hours = fields.List(fields.Nested(Slot))
    weekdays = fields.List(fields.Nested(Slot))
    seasons = fields.List(fields.Nested(SeasonSlot))


class DayAmount(Strict):
    date = fields.Date()
    amount = Money()


class WeekAmount(Strict):
    week_start = fields.Date()
    amount = Money()


class BacktestWeek(Strict):
    week_start = fields.Date()
    actual = Money()
    forecast = Money()


class Backtest(Strict):
    method = fields.String()
    days = fields.Integer()
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    mape_weekly_percent = fields.Float(allow_none=True, metadata={"description": "mean absolute percentage error of weekly totals"})
    mae_daily = Money()
    weeks = fields.List(fields.Nested(BacktestWeek))


class ForecastOut(Strict):
    method = fields.String()
    history_days = fields.Integer()
    weeks = fields.Integer()
    daily = fields.List(fields.Nested(DayAmount))
    weekly = fields.List(fields.Nested(WeekAmount))
    backtest = fields.Nested(Backtest, allow_none=True)
    history = fields.List(fields.Nested(DayAmount))


def scope(code: str | None) -> list[int] | None:
    """Store ids the answer covers: the named store, or all the caller's (None: every store)."""
    if code or principal().store is not None:
        return [resolve_store(code).id]
    return principal().store_ids()


def date_range(args) -> tuple:
    stores = stats.stores_for(db.session, scope(args.get("store")))
    tz = stores[0].tz if stores else None
    today = utcnow().astimezone(tz).date() if tz else utcnow().date()
    last = args.get("date_to") or today - timedelta(days=1)
    first = args.get("date_from") or last - timedelta(days=29)
    return first, last


@endpoint(bp, "/analytics/sales", "GET", summary="Sales per day, week or month: net amount, count, average ticket, per store and together",
          query=SeriesQuery, response=SeriesOut, role="manager", errors=(400, 401, 403, 404))
def sales(args):
    first, last = date_range(args)
    return stats.sales_series(db.session, scope(args.get("store")), args["period"], first, last)


@endpoint(bp, "/analytics/products", "GET", summary="Best and slowest sellers in a period",
          query=RankingQuery, response=RankingOut, role="manager", errors=(400, 401, 403, 404))
def products(args):
    first, last = date_range(args)
    return stats.product_ranking(db.session, scope(args.get("store")), first, last, args["limit"])


@endpoint(bp, "/analytics/preferences", "GET", summary="When customers buy (hour, weekday, season) and what each season",
          query=RangeQuery, response=PreferencesOut, role="manager", errors=(400, 401, 403, 404))
def preferences(args):
    first, last = date_range(args)
    return stats.preferences(db.session, scope(args.get("store")), first, last)


@endpoint(bp, "/analytics/forecast", "GET", summary="Forecast of the coming weeks' sales, with its method and backtest error",
          query=ForecastQuery, response=ForecastOut, role="manager", errors=(400, 401, 403, 404))
def forecast(args):
    return fc.forecast_sales(db.session, scope(args.get("store")), args["weeks"], args["history_days"])
