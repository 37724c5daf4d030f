"""Feedback's hookimpls: thin, each calls a service."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.models import utcnow
from core.plugins import hookimpl
from plugins.feedback.labels import CATEGORY_LABELS, SLA_LABELS, STATE_LABELS, label
from plugins.feedback.models import Complaint, FeedbackEntry
from plugins.feedback.services import demo, privacy, quality, surveys

# --- registration -----------------------------------------------------------------------------------


@hookimpl
def register_blueprints(app):
    from plugins.feedback.api import bp
    from plugins.feedback.public import public

    app.register_blueprint(bp)
    app.register_blueprint(public)
    # No routes: makes templates/feedback/* available to render_template.
    app.register_blueprint(Blueprint("feedback_templates", __name__, template_folder="templates"))


@hookimpl
def register_admin_views(admin, app):
    from plugins.feedback.admin import register

    register(admin, app)


@hookimpl
def register_cli_commands(cli):
    from plugins.feedback.cli import feedback

    cli.add_command(feedback)


@hookimpl
def register_jobs(scheduler):
    from plugins.feedback import jobs

    scheduler.every(jobs.raise_breach_alerts, seconds=300, name="feedback.breach_alerts")
    # SLA breaches are told as they happen, day and night; surveys go to customers once a day at
    # each store's `survey_time`, on its own clock.
    scheduler.store_daily(jobs.send_store_surveys, "feedback", "survey_time", name="feedback.surveys")


@hookimpl
def kpi_metric_definitions():
    return [
        {"name": "feedback.avg_rating", "label": _l("Average rating"), "format": "decimal", "higher_is_better": True},
        {"name": "feedback.ratings", "label": _l("Ratings received"), "format": "count", "higher_is_better": True},
        {"name": "feedback.complaints_about", "label": _l("Complaints about them"), "format": "count",
         "higher_is_better": False},
        {"name": "feedback.complaints_handled", "label": _l("Complaints handled"), "format": "count",
         "higher_is_better": True},
        {"name": "feedback.resolution_on_time_rate", "label": _l("Complaints resolved on time"), "format": "percent",
         "higher_is_better": True},
        {"name": "feedback.first_response_on_time_rate", "label": _l("First responses on time"), "format": "percent",
         "higher_is_better": True},
    ]


# --- events ------------------------------------------------------------------------------------------


@hookimpl
def sale_recorded(sale, ctx):
    # After the commit (undecorated): owe a satisfaction survey; the job sends it when due. The
    # surveys a delivery batch owes are written together, in one INSERT.
    owed = surveys.owed_for_sale(sale)
    if owed is not None:
        ctx.once_per_batch(("feedback", "surveys"), surveys.owe_surveys, owed)


# --- contributions -----------------------------------------------------------------------------------


@hookimpl
def kpi_metrics(staff, period, ctx):
    return quality.staff_metrics(ctx.session, staff.id, period, ctx.store)


@hookimpl
def customer_panels(customer, ctx):
    session = ctx.session
    complaints = list(session.scalars(select(Complaint).where(Complaint.customer_id == customer.id)
                                      .order_by(Complaint.id.desc()).limit(5)))
    entries = list(session.scalars(select(FeedbackEntry).where(FeedbackEntry.customer_id == customer.id)
                                   .order_by(FeedbackEntry.id.desc()).limit(5)))
    open_last = complaints[0] if complaints and complaints[0].state in ("new", "acknowledged", "in_progress") else None
    settings = ctx.settings()
    html = render_template("feedback/panel.html", complaints=complaints, entries=entries, open_last=open_last,
                           now=utcnow(), settings=settings, customer_id=customer.id, store_id=getattr(ctx.store, "id", None),
                           STATE_LABELS=STATE_LABELS, CATEGORY_LABELS=CATEGORY_LABELS, SLA_LABELS=SLA_LABELS,
                           label=label)
    # An unresolved complaint goes first on the page: apologise before anything else (seed 002).
    return [{"title": _("Complaints and feedback"), "html": Markup(html), "order": 5 if open_last else 40}]


@hookimpl
def dashboard_widgets(store, period, ctx):
    store_ids = [store.id] if store is not None else None
    settings = ctx.settings() if store is not None else ctx.registry.settings(None, "feedback")
    now = utcnow()
    by_sla = quality.open_by_sla(ctx.session, store_ids, now, settings["due_soon_hours"])
    tz = ZoneInfo(store.timezone if store is not None else "Asia/Shanghai")
    start = datetime.combine(period[0], time.min, tz)
    end = datetime.combine(period[1] + timedelta(days=1), time.min, tz)
    avg, n = quality.average_rating(ctx.session, store_ids, start, end)
    from plugins.feedback.services.alerts import count_open_alerts

    alerts = count_open_alerts(ctx.session, store_ids)
    return [
        {"title": _("Open complaints by SLA"), "chart": {
            "type": "doughnut", "labels": [label(SLA_LABELS, s) for s in by_sla],
            "datasets": [{"label": _("Open complaints"), "data": list(by_sla.values())}]}},
        {"title": _("Average rating"), "value": f"{avg:.2f} / 5" if avg is not None else "—",
         "note": _("%(n)s ratings in the period", n=n)},
        {"title": _("SLA breach alerts"), "value": str(alerts),
         "note": _("%(n)s open complaints overdue", n=by_sla["overdue"])},
    ]


@hookimpl
def segment_filters():
    def open_complaint(stmt, params, ctx):
        return quality.flag_filter(stmt)

    return [{"name": "feedback_open_complaint", "label": _l("Last complaint unresolved"), "params": {},
             "apply": open_complaint}]


@hookimpl
def demo_seed(store, rng, today, ctx):
    demo.seed(ctx.session, ctx, store, rng, today)


# --- personal data -----------------------------------------------------------------------------------


@hookimpl
def customer_export(customer, ctx):
    return privacy.export(ctx.session, customer)


@hookimpl
def customer_erased(customer_id, ctx):
    privacy.erase(ctx.session, customer_id)


@hookimpl
def sandbox_reset(store, customer_ids, ctx):
    from plugins.feedback.services import sandbox

    return sandbox.reset(ctx.session, store, customer_ids)


@hookimpl
def customer_merged(kept, merged, ctx):
    privacy.merge(ctx.session, kept, merged)


@hookimpl
def webhook_event_types():
    return [{"type": "feedback.complaint_opened", "label": _l("Complaint opened")},
            {"type": "feedback.complaint_resolved", "label": _l("Complaint resolved")}]
