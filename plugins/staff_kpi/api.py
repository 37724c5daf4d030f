"""/api/v1/staff_kpi/…: the report, targets, the leaderboard and the commission payout.

Mounted with `core.api.plugin_blueprint`, so every route answers 404 in a store that has not
enabled staff_kpi. Who sees what: a staff member only their own row; managers their stores;
owners every store. A till's token sees nothing here (403): figures are about people."""

from __future__ import annotations

from flask import Response, current_app, g

from core.api import plugin_blueprint
from core.api.http import endpoint, principal
from core.errors import Forbidden, InvalidInput
from core.extensions import db
from core.plugins import HookContext
from plugins.staff_kpi.schemas import (
    MONTH_PATTERN, CommissionOut, ExportQuery, LeaderboardOut, MonthQuery, ReportOut, ReportQuery, TargetIn, TargetOut,
)
from plugins.staff_kpi.services import export, report, targets
from plugins.staff_kpi.services.periods import expand, month_days, period_for

bp = plugin_blueprint("staff_kpi", __name__)


def _ctx() -> HookContext:
    who = principal()
    return HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                       registry=current_app.extensions["storecrm.plugins"], plugin="staff_kpi")


def _person():
    who = principal()
    if who.user is None:
        raise Forbidden("staff figures are for people, not tills")
    return who.user


def _dump(doc: dict) -> dict:
    """Decimals as strings for the schema's string fields; contributed values likewise."""
    def row(r):
        out = dict(r)
        for key in ("units", "margin_percent", "repurchase_rate", "attainment_percent"):
            out[key] = report.as_text(r.get(key))
        out["metrics"] = {k: report.as_text(v) for k, v in r["metrics"].items()}
        return out

    doc = dict(doc)
    doc["rows"] = [row(r) for r in doc["rows"]]
    doc["totals"] = row(doc["totals"])
    doc["metric_definitions"] = [{**d, "label": str(d["label"])} for d in doc["metric_definitions"]]
    return doc


def _month_report(month: str, user=None) -> dict:
    first, last = month_days(month)
    return report.build(_ctx(), g.store, period_for(g.store.tz, first, last), month=month, only_user=user)


@endpoint(bp, "/report", "GET", summary="Every figure of every salesperson over a period (staff: their own)",
          query=ReportQuery, response=ReportOut, errors=(400, 401, 403, 404))
def get_report(args):
    user = _person()
    first, last = expand(args["period"], args["from_"], args.get("to"))
    month = first.strftime("%Y-%m") if (first, last) == month_days(first.strftime("%Y-%m")) else None
    only = None if user.at_least("manager") else user
    return _dump(report.build(_ctx(), g.store, period_for(g.store.tz, first, last), only_user=only, month=month))


@endpoint(bp, "/targets/<username>/<month>", "PUT", summary="Set a salesperson's target for a month (manager)",
          body=TargetIn, response=TargetOut, role="manager", errors=(400, 401, 403, 404, 422))
def put_target(username, month, body):
    import re

    if not re.match(MONTH_PATTERN, month):
        raise InvalidInput("month must be YYYY-MM", fields={"month": ["Use YYYY-MM."]})
    user = targets.member_of_store(db.session, g.store, username)
    known = [d["name"] for d in report.metric_definitions(current_app.extensions["storecrm.plugins"],
                                                          current_app.extensions["storecrm.plugins"].enabled_in(g.store))]
    target = targets.set_target(db.session, g.store, user, month, body.get("amount"), body.get("metrics") or {},
                                actor=principal().user, known_metrics=known)
    db.session.commit()
    return {"username": user.username, "month": month, "amount": target.amount, "metrics": target.metrics}


@endpoint(bp, "/leaderboard", "GET", summary="Salespeople of the store ranked by net sales for a month (manager)",
          query=MonthQuery, response=LeaderboardOut, role="manager", errors=(400, 401, 403, 404))
def get_leaderboard(args):
    raw = _month_report(args["month"])
    targets.leaderboard(raw)  # ranks the rows in place
    rows = sorted((r for r in _dump(raw)["rows"] if "rank" in r), key=lambda r: (r["rank"], r["username"]))
    return {"store": g.store.code, "month": args["month"], "rows": rows}


def _payout(month: str) -> dict:
    settings = current_app.extensions["storecrm.plugins"].settings(g.store, "staff_kpi")
    payout = targets.commission(_month_report(month), settings)
    return {"store": g.store.code, "month": month, **payout,
            "rows": [{**r, "attainment_percent": report.as_text(r["attainment_percent"]),
                      "rate_percent": report.as_text(r["rate_percent"])} for r in payout["rows"]]}


@endpoint(bp, "/commission", "GET", summary="The commission payout for a month (manager)",
          query=MonthQuery, response=CommissionOut, role="manager", errors=(400, 401, 403, 404))
def get_commission(args):
    return _payout(args["month"])


@endpoint(bp, "/commission/export", "GET", summary="The commission payout as CSV or XLSX (manager)",
          query=ExportQuery, role="manager", errors=(400, 401, 403, 404))
def export_commission(args):
    content, mimetype, filename = export.commission_file(_payout(args["month"]), g.store.code, args["month"], args["format"])
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})
