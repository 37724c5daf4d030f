"""The dashboard: the admin's home page, per store and for the chain."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_admin import AdminIndexView, expose
from flask_babel import gettext as _

from core.admin import stats
from core.admin.base import StoreViewMixin, accessible_stores, current_store, current_user_or_none, registry
from core.admin.customer_page import view_scope
from core.admin.formatting import DEFAULT_TZ
from core.extensions import db
from core.plugins import HookContext

log = logging.getLogger(__name__)
PERIODS = (7, 30, 90)


def _num(value):
    """Chart data as plain numbers for Chart.js (display only; the figures stay Decimal elsewhere)."""
    return float(value) if isinstance(value, Decimal) else value


def chart(kind: str, labels, datasets, **options) -> dict:
    """A chart widget's spec: Chart.js type, labels and datasets `[{"label", "data"}]`."""
    return {"type": kind, "labels": [str(label) for label in labels],
            "datasets": [{**ds, "data": [_num(v) for v in ds["data"]]} for ds in datasets], **options}


def collect_widgets(store, period, ctx) -> list[dict]:
    """Core widgets (classification registers them) and the plugins' `dashboard_widgets`.
    A failing widget is logged and left out: the dashboard must always open."""
    widgets: list[dict] = []
    for provider in current_app.extensions.get("storecrm.core_widgets", []):
        try:
            widgets.extend(provider(store, period, ctx) or [])
        except Exception:  # noqa: BLE001
            log.exception("core dashboard widget %r failed", provider)
    reg = registry()
    if store is not None:
        enabled = reg.enabled_in(store)
    else:  # the chain view asks every plugin that some store of the user has on
        enabled = frozenset().union(*(reg.enabled_in(s) for s in accessible_stores())) if accessible_stores() else frozenset()
    for name in reg.implementers("dashboard_widgets", enabled):
        try:
            for result in reg.caller_for("dashboard_widgets", name)(store=store, period=period, ctx=ctx.for_plugin(name)):
                widgets.extend(result or [])
        except Exception:  # noqa: BLE001
            log.exception("plugin %s dashboard_widgets failed", name)
    for widget in widgets:
        if "chart" in widget:
            widget["chart"] = normalise_chart(widget["chart"])
    return widgets


def normalise_chart(spec: dict) -> dict:
    """Chart.js `datasets: [{"label", "data"}]`; the ECharts-like `series: [{"name", "data"}]`
    is accepted too, so a widget need not know which library draws it."""
    spec = dict(spec)
    series = spec.pop("series", None)
    datasets = spec.get("datasets") or [{"label": s.get("name", ""), "data": s.get("data", []),
                                         **({"type": s["type"]} if s.get("type") else {})} for s in series or []]
    spec["datasets"] = [{**ds, "data": [_num(v) for v in ds.get("data", [])]} for ds in datasets]
    spec["labels"] = [str(label) for label in spec.get("labels", [])]
    spec.setdefault("type", "bar")
    return spec


class DashboardView(StoreViewMixin, AdminIndexView):
    @expose("/")
    def index(self):
        store = current_store()
        days = request.args.get("days", type=int)
        days = days if days in PERIODS else 30
        tz = ZoneInfo(store.timezone if store else DEFAULT_TZ)
        scope = view_scope()
        session = db.session
        per_day = stats.sales_per_day(session, scope, tz, days)
        weekday = stats.sales_by_weekday(session, scope, tz, max(days, 28))
        top = stats.top_products(session, scope, tz, days)
        first, last, _start, _end = stats.period_bounds(days, tz)
        user = current_user_or_none()
        ctx = HookContext(session=session, store=store, user=user, actor=user.username, registry=registry())
        widgets = collect_widgets(store, (first, last), ctx)
        charts = {
            "sales": chart("bar", per_day["labels"], [
                {"label": _("Net sales (¥)"), "data": per_day["amounts"], "yAxisID": "y"},
                {"label": _("Receipts"), "data": per_day["counts"], "type": "line", "yAxisID": "y1"},
            ]),
            "weekday": chart("bar", [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
                             [{"label": _("Average net sales per day (¥)"), "data": weekday}]),
            "top": chart("bar", [name for name, _q, _a in top], [{"label": _("Net sales (¥)"), "data": [a for _n, _q, a in top]}],
                         indexAxis="y"),
        }
        return self.render("storecrm/dashboard.html", store=store, days=days, periods=PERIODS,
                           tiles=stats.tiles(session, scope, tz, days), charts=charts, widgets=widgets,
                           first=first, last=last, yesterday=last - timedelta(days=1))
