"""Membership's hookimpls: thin, each calls a service."""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.models import Customer
from core.plugins import HookContext, hookimpl, in_transaction
from plugins.membership import kpi, services
from plugins.membership.models import Member, Tier

log = logging.getLogger(__name__)


def notifier(ctx: HookContext):
    """Ask the plugins enabled in the store that own message channels (campaigns) to tell the
    customer — through the `customer_notification` hook, never an import of them. The first
    that answers True has taken it. A failing channel never undoes the membership change."""

    def notify(customer, topic: str, data: dict) -> bool:
        reg = ctx.registry
        for name in reg.implementers("customer_notification", reg.enabled_in(ctx.store)):
            if name == "membership":
                continue
            try:
                with ctx.session.begin_nested():
                    answers = reg.caller_for("customer_notification", name)(
                        customer=customer, topic=topic, data=data, ctx=ctx.for_plugin(name))
            except Exception:  # noqa: BLE001 - the member keeps the new tier; the notice is best effort
                log.exception("customer_notification of %s failed for customer %s", name, customer.id)
                continue
            if any(answers):
                return True
        return False

    return notify


# Seed 000's perks; a tier may carry any other code, shown as it is.
PERKS = {"event_priority": _l("Priority for events"), "exclusive_gift": _l("Exclusive gift"),
         "priority_service": _l("Priority service")}


# --- registration -----------------------------------------------------------------------------------

@hookimpl
def register_blueprints(app):
    from plugins.membership.api import bp

    app.register_blueprint(bp)


@hookimpl
def register_admin_views(admin, app):
    from plugins.membership.admin import register

    register(admin, app)


@hookimpl
def register_cli_commands(cli):
    from plugins.membership.cli import membership

    cli.add_command(membership)


@hookimpl
def register_jobs(scheduler):
    from plugins.membership import jobs

    scheduler.cron(jobs.expire_points, "15 2 * * *", name="membership.expire_points")
    scheduler.cron(jobs.yearly_review, "45 2 * * *", name="membership.yearly_review")


# --- events ------------------------------------------------------------------------------------------

@hookimpl
def plugin_enabled(store, ctx):
    services.seed_defaults(ctx.session, current_app.config.get("LOCALE") or "zh_CN")


@hookimpl
@in_transaction
def sale_recorded(sale, ctx):
    services.record_sale(ctx.session, sale, ctx.store, user=ctx.user, actor=ctx.actor, notify=notifier(ctx))


@hookimpl
@in_transaction
def sale_refunded(sale, refund, ctx):
    services.record_refund(ctx.session, sale, refund, ctx.store, user=ctx.user, actor=ctx.actor, notify=notifier(ctx))


# --- contributions -----------------------------------------------------------------------------------

@hookimpl
def sale_quote(cart, customer, ctx):
    return services.quote(ctx.session, ctx.store, ctx.settings(), cart, customer)


@hookimpl
def sale_result(sale, ctx):
    return services.sale_summary(ctx.session, sale)


@hookimpl
def customer_panels(customer, ctx):
    view = services.member_view(ctx.session, customer, ledger_limit=10)
    can_adjust = ctx.user is not None and ctx.user.at_least("manager")
    perks = [str(PERKS.get(p, p)) for p in (view["tier"] or {}).get("perks", [])]
    html = render_template("membership/panel.html", view=view, can_adjust=can_adjust, perks=perks)
    return [{"title": _("Membership"), "html": Markup(html), "order": 20}]


@hookimpl
def dashboard_widgets(store, period, ctx):
    per_tier = services.members_per_tier(ctx.session)
    points, worth = services.points_liability(ctx.session)
    return [
        {"title": _("Members by tier"), "chart": {"type": "bar", "labels": [t.name for t, _n in per_tier],
                                                  "datasets": [{"label": _("Members"),
                                                                "data": [n for _t, n in per_tier]}]}},
        {"title": _("Members"), "value": f"{sum(n for _t, n in per_tier):,}"},
        {"title": _("Points liability"), "value": f"¥{worth:,.2f}",
         "note": _("%(points)s points outstanding", points=f"{points:,}")},
    ]


@hookimpl
def segment_filters():
    def by_tier(stmt, params, ctx):
        codes = params.get("tiers") or []
        members = select(Member.customer_id).join(Tier, Tier.id == Member.tier_id).where(Tier.code.in_(codes))
        return stmt.where(Customer.id.in_(members))

    def by_balance(stmt, params, ctx):
        members = select(Member.customer_id)
        if params.get("min") is not None:
            members = members.where(Member.points_balance >= int(params["min"]))
        if params.get("max") is not None:
            members = members.where(Member.points_balance <= int(params["max"]))
        return stmt.where(Customer.id.in_(members))

    return [
        {"name": "membership_tier", "label": _l("Membership tier"),
         "params": {"tiers": {"type": "list", "of": "tier code"}}, "apply": by_tier},
        {"name": "membership_points", "label": _l("Points balance"),
         "params": {"min": {"type": "integer"}, "max": {"type": "integer"}}, "apply": by_balance},
    ]


# --- personal data ---------------------------------------------------------------------------------

@hookimpl
def customer_export(customer, ctx):
    return services.export(ctx.session, customer)


@hookimpl
def customer_erased(customer_id, ctx):
    services.erase(ctx.session, customer_id)


@hookimpl
def customer_merged(kept, merged, ctx):
    return services.merge(ctx.session, kept, merged)


# --- staff performance (staff_kpi reads these through the hooks; no import either way) ----------------

@hookimpl
def kpi_metric_definitions():
    return [{"name": kpi.NEW_MEMBERS, "label": _l("New members signed up"), "format": "count",
             "higher_is_better": True}]


@hookimpl
def kpi_metrics(staff, period, ctx):
    if ctx.store is None:
        return None
    return {kpi.NEW_MEMBERS: kpi.new_members(ctx.session, ctx.store, staff.id, *period)}


# --- checks ------------------------------------------------------------------------------------------

@hookimpl
def sale_validate(sale, customer, ctx):
    services.check_points_cover_sale(ctx.session, sale, customer, ctx.settings)
