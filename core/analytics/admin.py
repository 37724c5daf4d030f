"""The admin's sales analytics page: series, rankings, preferences and the forecast, as charts."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask_admin import expose
from flask_babel import lazy_gettext as _l

from core.admin.base import StoreView, current_store, scope_store_ids, current_user_or_none
from core.analytics import stats
from core.classification.panels import _lang
from core.analytics.cache import cached_forecast
from core.extensions import db
from core.models import utcnow

PERIOD_DAYS = {"day": 30, "week": 7 * 26, "month": 366 * 2}
TEXT = {
    "en": {"title": "Sales analytics", "amount": "Net sales (¥)", "count": "Receipts", "avg": "Average ticket (¥)",
           "best": "Best sellers", "slow": "Slowest sellers", "hours": "By hour", "weekdays": "By weekday",
           "seasons": "By season", "forecast": "Forecast", "actual": "Actual", "method": "Method",
           "backtest": "Backtest on the last 4 weeks: MAPE of weekly totals", "no_backtest": "Not enough history for a backtest",
           "day": "Daily", "week": "Weekly", "month": "Monthly", "sku": "SKU", "name": "Product", "qty": "Quantity",
           "top_cat": "Top categories",
           "weekday_names": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
           "season_names": {"spring": "Spring", "summer": "Summer", "autumn": "Autumn", "winter": "Winter"},
           "methods": {"holt_winters": "Holt-Winters exponential smoothing (damped trend, weekly seasonality)",
                       "seasonal_naive": "Seasonal naive: each weekday as in the last week"}},
    "zh": {"title": "销售统计", "amount": "净销售额（¥）", "count": "单数", "avg": "客单价（¥）",
           "best": "畅销商品", "slow": "滞销商品", "hours": "按小时", "weekdays": "按星期", "seasons": "按季节",
           "forecast": "销售预测", "actual": "实际", "method": "方法", "backtest": "最近4周回测：周销售额平均绝对百分比误差",
           "no_backtest": "历史数据不足，无法回测", "day": "每日", "week": "每周", "month": "每月", "sku": "货号",
           "name": "商品", "qty": "数量", "top_cat": "热门品类",
           "weekday_names": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
           "season_names": {"spring": "春", "summer": "夏", "autumn": "秋", "winter": "冬"},
           "methods": {"holt_winters": "霍尔特-温特斯指数平滑（阻尼趋势，按周季节性）",
                       "seasonal_naive": "季节性朴素法：每个星期几按上周同日"}},
}


def method_label(method: str, text: dict) -> str:
    """The forecast's method as a person reads it (the API keeps the technical description)."""
    from core.analytics.forecast import FALLBACK

    return text["methods"]["seasonal_naive" if method == FALLBACK else "holt_winters"]


def _chart(kind, labels, datasets, **options):
    return {"type": kind, "labels": [str(x) for x in labels],
            "datasets": [{**d, "data": [float(v) for v in d["data"]]} for d in datasets], **options}


class AnalyticsView(StoreView):

    @expose("/")
    def index(self):
        lang = _lang()
        t = TEXT[lang]
        period = request.args.get("period") if request.args.get("period") in PERIOD_DAYS else "day"
        store = current_store()
        user = current_user_or_none()
        ids = None if (store is None and user is not None and user.role == "owner") else scope_store_ids()
        stores = stats.stores_for(db.session, ids)
        tz = stores[0].tz if stores else None
        today = utcnow().astimezone(tz).date() if tz else utcnow().date()
        last = today - timedelta(days=1)
        first = last - timedelta(days=PERIOD_DAYS[period] - 1)
        series = stats.sales_series(db.session, ids, period, first, last)["all"]
        ranking = stats.product_ranking(db.session, ids, last - timedelta(days=89), last, 10)
        prefs = stats.preferences(db.session, ids, last - timedelta(days=364), last)
        forecast = cached_forecast(current_app, db.session, ids, today, weeks=4)
        charts = {
            "series": _chart("bar", [r["start"] for r in series["rows"]], [
                {"label": t["amount"], "data": [r["amount"] for r in series["rows"]], "yAxisID": "y"},
                {"label": t["count"], "data": [r["count"] for r in series["rows"]], "type": "line", "yAxisID": "y1"},
                {"label": t["avg"], "data": [r["average_ticket"] for r in series["rows"]], "type": "line", "yAxisID": "y"},
            ]),
            "hours": _chart("bar", [f"{h['key']:02d}" for h in prefs["hours"]],
                            [{"label": t["amount"], "data": [h["amount"] for h in prefs["hours"]]}]),
            "weekdays": _chart("bar", t["weekday_names"],
                               [{"label": t["amount"], "data": [d["amount"] for d in prefs["weekdays"]]}]),
            "seasons": _chart("bar", [t["season_names"][s["key"]] for s in prefs["seasons"]],
                              [{"label": t["amount"], "data": [s["amount"] for s in prefs["seasons"]]}]),
        }
        # Chart.js lines datasets up by index: the forecast starts where the history ends.
        history, ahead = forecast["history"], forecast["daily"]
        charts["forecast"] = {"type": "line", "labels": [str(d["date"]) for d in history + ahead], "datasets": [
            {"label": t["actual"], "data": [float(d["amount"]) for d in history]},
            {"label": t["forecast"], "data": [None] * len(history) + [float(d["amount"]) for d in ahead],
             "borderDash": [6, 4]},
        ]}
        return self.render("analytics/index.html", t=t, method_label=method_label, period=period, periods=list(PERIOD_DAYS), store=store,
                           series=series, ranking=ranking, prefs=prefs, forecast=forecast, charts=charts,
                           first=first, last=last)


def register(admin) -> None:
    admin.add_view(AnalyticsView(name=_l("Analytics"), category=_l("Sales"), endpoint="analytics",
                                 url="/admin/analytics"))
