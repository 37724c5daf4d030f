"""staff_kpi in the admin: the report with charts, the leaderboard, the targets editor, the
commission payout (with CSV/XLSX download) and "my performance". Built on core/admin's base
views: every page needs a login and hides where staff_kpi is off; all but "my performance"
are for managers, and "my performance" only ever shows the signed-in person."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.admin.base import StoreView, chain_view_stores, current_store, current_user_or_none
from core.errors import DomainError
from core.extensions import db
from core.models import utcnow
from core.plugins import HookContext
from plugins.staff_kpi.services import export, figures, report, targets
from plugins.staff_kpi.services.periods import expand, month_days, period_for

CATEGORY = _l("Staff performance")
PERIODS = ("day", "week", "month", "custom")


def _registry():
    return current_app.extensions["storecrm.plugins"]


def _store():
    """The store the page is about: the navbar's, or (chain view) the first with staff_kpi on."""
    store = current_store()
    if store is not None:
        return store
    for candidate in chain_view_stores():
        if _registry().is_enabled(candidate, "staff_kpi"):
            return candidate
    abort(404)


def _ctx(store):
    user = current_user_or_none()
    return HookContext(session=db.session, store=store, user=user, actor=user.username, registry=_registry(),
                       plugin="staff_kpi")


def _today(store) -> date:
    return utcnow().astimezone(store.tz).date()


def _month_arg(store) -> str:
    month = request.args.get("month") or ""
    try:
        month_days(month)
        return month
    except (ValueError, TypeError):
        return (_today(store).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")  # last month


def _period_args(store):
    kind = request.args.get("period") if request.args.get("period") in PERIODS else "month"
    try:
        first = date.fromisoformat(request.args.get("from") or "")
    except ValueError:
        first = _today(store).replace(day=1) - timedelta(days=1)  # default: last month
    try:
        to = date.fromisoformat(request.args.get("to") or "")
    except ValueError:
        to = None
    first, last = expand(kind, first, to if to and to >= first else None)
    if (last - first).days > 366 * 3:
        last = first + timedelta(days=366 * 3)
    return kind, first, last


def _month_of(first: date, last: date) -> str | None:
    month = first.strftime("%Y-%m")
    return month if (first, last) == month_days(month) else None


def _trend_chart(store, period, attribution, rows) -> dict:
    days = [period.first_day + timedelta(days=i) for i in range((period.last_day - period.first_day).days + 1)]
    ids = [r["user_id"] for r in rows]
    series = figures.daily_net(db.session, store, period, attribution, [i for i in ids if i is not None])
    return {"type": "line", "labels": [d.isoformat() for d in days], "datasets": [
        {"label": r["display_name"], "data": [float(series.get(r["user_id"], {}).get(d, 0)) for d in days]}
        for r in rows if r["user_id"] is not None]}


def _metric_columns(doc) -> list[dict]:
    """Columns for contributed metrics: every definition of an enabled plugin, plus any value
    that came without one (labelled by its name)."""
    columns = {d["name"]: d for d in doc["metric_definitions"]}
    for row in doc["rows"]:
        for name in row["metrics"]:
            columns.setdefault(name, {"name": name, "label": name, "format": "decimal", "higher_is_better": True})
    return list(columns.values())


class ReportView(StoreView):
    plugin = "staff_kpi"

    @expose("/")
    def index(self):
        store = _store()
        kind, first, last = _period_args(store)
        period = period_for(store.tz, first, last)
        doc = report.build(_ctx(store), store, period, month=_month_of(first, last))
        comparison = []
        # The chain's stores side by side: live ones (and the page's own, a sandbox picked).
        side_by_side = chain_view_stores()
        for other in side_by_side + ([store] if store not in side_by_side else []):
            if _registry().is_enabled(other, "staff_kpi"):
                attribution = _registry().settings(other, "staff_kpi")["refund_attribution"]
                sums = figures.from_rollup(db.session, other, period_for(other.tz, first, last), attribution)
                comparison.append((other.name, sum((f["net_amount"] for f in sums.values()), Decimal("0.00")),
                                   len([k for k in sums if k is not None])))
        charts = {
            "trend": _trend_chart(store, period, doc["refund_attribution"], doc["rows"]),
            "stores": {"type": "bar", "labels": [name for name, _a, _n in comparison], "datasets": [
                {"label": _("Net sales"), "data": [float(a) for _n, a, _c in comparison]},
                {"label": _("Net sales per salesperson"),
                 "data": [float(a / n) if n else 0 for _n, a, n in comparison]}]},
        }
        return self.render("staff_kpi/report.html", doc=doc, store=store, kind=kind, periods=PERIODS, first=first,
                           last=last, charts=charts, metric_columns=_metric_columns(doc), own=False)


class MyPerformanceView(StoreView):
    """Anyone signed in sees their own figures, and only theirs: no one else's row is ever built."""

    plugin = "staff_kpi"

    @expose("/")
    def index(self):
        store = _store()
        user = current_user_or_none()
        kind, first, last = _period_args(store)
        period = period_for(store.tz, first, last)
        doc = report.build(_ctx(store), store, period, only_user=user, month=_month_of(first, last))
        charts = {"trend": _trend_chart(store, period, doc["refund_attribution"], doc["rows"])}
        return self.render("staff_kpi/report.html", doc=doc, store=store, kind=kind, periods=PERIODS, first=first,
                           last=last, charts=charts, metric_columns=_metric_columns(doc), own=True)


class LeaderboardView(StoreView):
    plugin = "staff_kpi"

    @expose("/")
    def index(self):
        store = _store()
        month = _month_arg(store)
        first, last = month_days(month)
        doc = report.build(_ctx(store), store, period_for(store.tz, first, last), month=month)
        ranked = targets.leaderboard(doc)
        chart = {"type": "bar", "labels": [r["display_name"] for r in ranked], "datasets": [
            {"label": _("Net sales"), "data": [float(r["net_amount"]) for r in ranked]},
            {"label": _("Target"), "data": [float(r["target_amount"] or 0) for r in ranked]}]}
        settings = _registry().settings(store, "staff_kpi")
        payout = targets.commission(doc, settings)
        return self.render("staff_kpi/leaderboard.html", store=store, month=month, rows=ranked, chart=chart,
                           payout=payout, metric_columns=_metric_columns(doc))

    @expose("/commission.<fmt>")
    def commission_file(self, fmt):
        if fmt not in ("csv", "xlsx"):
            abort(404)
        store = _store()
        month = _month_arg(store)
        first, last = month_days(month)
        doc = report.build(_ctx(store), store, period_for(store.tz, first, last), month=month)
        payout = targets.commission(doc, _registry().settings(store, "staff_kpi"))
        content, mimetype, filename = export.commission_file(payout, store.code, month, fmt)
        return Response(content, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


class TargetsView(StoreView):
    plugin = "staff_kpi"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        store = _store()
        month = request.values.get("month") or _today(store).strftime("%Y-%m")
        try:
            month_days(month)
        except (ValueError, TypeError):
            month = _today(store).strftime("%Y-%m")
        people = figures.store_staff(db.session, store)
        if request.method == "POST":
            saved, problems = 0, []
            for person in people:
                raw_amount = (request.form.get(f"amount_{person.id}") or "").strip().replace(",", "")
                raw_rate = (request.form.get(f"repurchase_{person.id}") or "").strip()
                if not raw_amount and not raw_rate:
                    continue
                try:
                    amount = Decimal(raw_amount) if raw_amount else None
                    metrics = {"repurchase_rate": Decimal(raw_rate)} if raw_rate else {}
                    if (amount is not None and amount < 0) or any(v < 0 for v in metrics.values()):
                        raise InvalidOperation
                    with db.session.begin_nested():
                        targets.set_target(db.session, store, person, month, amount, metrics,
                                           actor=current_user_or_none())
                    saved += 1
                except (InvalidOperation, DomainError):
                    problems.append(person.display_name or person.username)
            if problems:
                db.session.rollback()
                flash(_("Not saved: these targets are not numbers of zero or more: %(names)s",
                        names=", ".join(problems)), "error")
            else:
                db.session.commit()
                flash(_("%(n)s targets saved for %(month)s.", n=saved, month=month), "success")
                return redirect(url_for(".index", month=month))
        existing = targets.targets_for(db.session, store, month)
        return self.render("staff_kpi/targets.html", store=store, month=month, people=people, existing=existing)


def register(admin, app) -> None:
    admin.add_view(ReportView(name=_l("Staff report"), category=CATEGORY, endpoint="staff_kpi_report",
                              url="/admin/staff_kpi/report"))
    admin.add_view(LeaderboardView(name=_l("Leaderboard and commission"), category=CATEGORY,
                                   endpoint="staff_kpi_leaderboard", url="/admin/staff_kpi/leaderboard"))
    admin.add_view(TargetsView(name=_l("Targets"), category=CATEGORY, endpoint="staff_kpi_targets",
                               url="/admin/staff_kpi/targets"))
    admin.add_view(MyPerformanceView(name=_l("My performance"), category=CATEGORY, endpoint="staff_kpi_mine",
                                     url="/admin/staff_kpi/mine"))
