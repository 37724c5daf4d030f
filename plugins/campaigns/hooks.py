"""Campaigns' hookimpls: thin, each calls a service."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.plugins import hookimpl, in_transaction
from plugins.campaigns.labels import Labels
from plugins.campaigns.services import automations, coupons, notifications, panels

log = logging.getLogger(__name__)


# --- registration -----------------------------------------------------------------------------------

@hookimpl
def register_blueprints(app):
    from plugins.campaigns.api import bp, public

    app.register_blueprint(bp)
    app.register_blueprint(public)
    app.register_blueprint(Blueprint("campaigns_templates", __name__, template_folder="templates"))


@hookimpl
def register_admin_views(admin, app):
    from plugins.campaigns.admin import register

    register(admin, app)


@hookimpl
def register_cli_commands(cli):
    from plugins.campaigns.cli import campaigns

    cli.add_command(campaigns)


@hookimpl
def register_jobs(scheduler):
    from plugins.campaigns import jobs

    scheduler.every(jobs.resume_campaigns, 300, name="campaigns.resume")
    scheduler.every(jobs.deliver_queued, 60, name="campaigns.deliver_queued")
    # Care messages once a day at each store's `care_time`, on its own clock.
    scheduler.store_daily(jobs.run_store_automations, "campaigns", "care_time", name="campaigns.automations")


@hookimpl
def kpi_metric_definitions():
    return [
        {"name": "campaigns.followups_on_time", "label": _l("Follow-ups done on time"), "format": "percent",
         "higher_is_better": True},
        {"name": "campaigns.followups_done", "label": _l("Follow-ups done"), "format": "count",
         "higher_is_better": True},
    ]


# --- the till ----------------------------------------------------------------------------------------

@hookimpl
def sale_quote(cart, customer, ctx):
    return coupons.quote(ctx.session, ctx.store, cart, customer)


@hookimpl
def sale_validate(sale, customer, ctx):
    coupons.check_sale(ctx.session, ctx.store, sale, customer)


@hookimpl
@in_transaction
def sale_recorded(sale, ctx):
    # Only the coupon's use: the next sale's check needs it at once. Follow-ups, second-visit
    # coupons and referral rewards come from the daily automations, after the commit.
    coupons.record_use(ctx.session, sale)


@hookimpl
def sale_refunded(sale, refund, ctx):
    coupons.restore_on_refund(ctx.session, sale, refund, ctx.settings())


@hookimpl
def sale_result(sale, ctx):
    return coupons.sale_summary(ctx.session, sale)


# --- requests from other plugins ---------------------------------------------------------------------

@hookimpl
def customer_notification(customer, topic, data, ctx):
    message = notifications.send_to_customer(ctx.session, ctx.store, customer, topic, data or {}, ctx.settings(),
                                             purpose="transactional",
                                             dedupe_key=f"{topic}:{customer.id}:{ctx.event_id}" if ctx.event_id else None)
    return True if message is not None else None


@hookimpl
def staff_notification(users, topic, data, ctx):
    if not users:
        return None
    notifications.notify_staff(ctx.session, ctx.store, users, topic, data or {})
    return True


@hookimpl
def issue_coupon(customer, spec, ctx):
    return coupons.issue_for(ctx.session, ctx.store, customer, spec)


@hookimpl
def kpi_metrics(staff, period, ctx):
    return automations.followups_on_time(ctx.session, staff.id, period) or None


# --- admin -------------------------------------------------------------------------------------------

@hookimpl
def customer_panels(customer, ctx):
    view = panels.customer_view(ctx.session, ctx.store, customer)
    html = render_template("campaigns/panel.html", view=view, labels=Labels)
    return [{"title": _("Messages and coupons"), "html": Markup(html), "order": 40}]


@hookimpl
def dashboard_widgets(store, period, ctx):
    return panels.dashboard(ctx.session, store, period)


@hookimpl
def demo_seed(store, rng, today, ctx):
    from plugins.campaigns.services import demo

    demo.seed(ctx.session, store, rng, today, ctx)


# --- personal data ---------------------------------------------------------------------------------

@hookimpl
def customer_export(customer, ctx):
    return panels.export(ctx.session, customer)


@hookimpl
def customer_erased(customer_id, ctx):
    panels.erase(ctx.session, customer_id)


@hookimpl
def sandbox_reset(store, customer_ids, ctx):
    from plugins.campaigns.services import sandbox

    return sandbox.reset(ctx.session, store, customer_ids)


@hookimpl
def customer_merged(kept, merged, ctx):
    panels.merge(ctx.session, kept, merged)


@hookimpl
def webhook_event_types():
    return [{"type": "campaigns.campaign_sent", "label": _l("Campaign sent")}]
