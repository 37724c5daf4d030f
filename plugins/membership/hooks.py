"""Membership's hookimpls: thin, each calls a service."""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.models import Customer
from core.plugins import HookContext, hookimpl, in_transaction
from plugins.membership import figures, kpi, labels, services
from plugins.membership.events import services as events
from plugins.membership.gifts import services as gifts
from plugins.membership.insight import services as insight
from plugins.membership.perks import discount, priority
from plugins.membership.rewards import services as rewards
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


from plugins.membership.labels import PERKS  # noqa: E402 - seed 000's perks, labelled


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
    scheduler.cron(gifts.job_issue, "55 2 * * *", name="membership.issue_gifts")


# --- events ------------------------------------------------------------------------------------------

@hookimpl
def plugin_enabled(store, ctx):
    if services.seed_defaults(ctx.session, current_app.config.get("LOCALE") or "zh_CN"):
        discount.seed_standing_discounts(ctx.session)


@hookimpl
@in_transaction
def sale_recorded(sale, ctx):
    # A tier it reaches is told after the commit (sale_recorded_follow_up), not here.
    services.record_sale(ctx.session, sale, ctx.store, user=ctx.user, actor=ctx.actor, settings=ctx.settings)
    gifts.mark_redeemed(ctx.session, sale)


@hookimpl
@in_transaction
def sale_refunded(sale, refund, ctx):
    services.record_refund(ctx.session, sale, refund, ctx.store, user=ctx.user, actor=ctx.actor)


# After the commit: what the till's answer does not need. A tier change made by the reaction
# above is announced here (the customer told through the message channels, the webhook sent),
# outside the till's transaction; delivered, failed and retried apart from it.

@hookimpl(specname="sale_recorded")
def sale_recorded_follow_up(sale, ctx):
    if sale.customer_id is not None:
        ctx.once_per_batch(("membership", "announce", getattr(ctx.store, "id", None)), _announcer(ctx),
                           (sale.customer_id, f"sale:{sale.id}", ctx.event_id))


@hookimpl(specname="sale_refunded")
def sale_refunded_follow_up(sale, refund, ctx):
    if sale.customer_id is not None:
        ctx.once_per_batch(("membership", "announce", getattr(ctx.store, "id", None)), _announcer(ctx),
                           (sale.customer_id, f"refund:{refund.id}", ctx.event_id))


def _announcer(ctx: HookContext):
    """A delivery batch's sales and refunds in one store, looked up together (most changed no
    tier); each change told under its own event (a channel keys its messages by the event)."""
    def announce(session, caused):
        event_of = {key: event_id for _, key, event_id in caused}
        return services.announce_changes_of(
            session, [(customer_id, key) for customer_id, key, _ in caused], store=ctx.store,
            notify_for=lambda key: notifier(replace(ctx, event_id=event_of[key])))
    return announce


# --- contributions -----------------------------------------------------------------------------------

@hookimpl
def sale_quote(cart, customer, ctx):
    settings = ctx.settings()
    adjustments = services.quote(ctx.session, ctx.store, settings, cart, customer)
    adjustments = discount.with_standing_discount(ctx.session, settings, cart, customer, adjustments)
    return gifts.with_gift(ctx.session, ctx.store, cart, customer, adjustments)


@hookimpl
def customer_priority(customer_ids, purpose, ctx):
    return priority.priority(ctx.session, ctx.settings(), customer_ids, purpose)


@hookimpl
def sale_result(sale, ctx):
    return services.sale_summary(ctx.session, sale)


@hookimpl
def customer_panels(customer, ctx):
    view = services.member_view(ctx.session, customer, ledger_limit=10)
    can_adjust = ctx.user is not None and ctx.user.at_least("manager")
    perks = [str(PERKS.get(p, p)) for p in (view["tier"] or {}).get("perks", [])]
    html = render_template("membership/panel.html", view=view, can_adjust=can_adjust, perks=perks,
                           kind_label=labels.kind_label, reason_label=labels.reason_label,
                           priority_service=priority.PERK in (view["tier"] or {}).get("perks", []))
    panels = [{"title": _("Membership"), "html": Markup(html), "order": 20}]
    if view["member"]:
        from plugins.membership.events.admin import panel as events_panel
        from plugins.membership.rewards.admin import panel

        panels.append(panel(customer, view))
        panels.extend(p for p in [events_panel(customer)] if p)
    return panels


@hookimpl
def dashboard_widgets(store, period, ctx):
    # The same definitions and scope as the members list (figures.py): the counts agree.
    scope = figures.dashboard_scope(store, ctx.user)
    per_tier = figures.members_per_tier(ctx.session, scope)
    points, worth = figures.points_liability(ctx.session, scope)
    return [
        {"title": _("Members by tier"), "chart": {"type": "bar", "labels": [t.name for t, _n in per_tier],
                                                  "datasets": [{"label": _("Members"),
                                                                "data": [n for _t, n in per_tier]}]}},
        {"title": _("Members"), "value": f"{sum(n for _t, n in per_tier):,}",
         "link": url_for("membership_members.index_view")},
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
        # What members may spend today: lots past their date count for nothing.
        today = services.program_today(services.get_program(ctx.session))
        spendable = Member.points_balance - services.expired_unwritten(Member.customer_id, today)
        members = select(Member.customer_id)
        if params.get("min") is not None:
            members = members.where(spendable >= int(params["min"]))
        if params.get("max") is not None:
            members = members.where(spendable <= int(params["max"]))
        return stmt.where(Customer.id.in_(members))

    def to_recall(stmt, params, ctx):
        return insight.recall_filter(stmt, params)

    return [
        {"name": "membership_recall", "label": _l("Members to recall (no purchase for a number of days)"),
         "params": {"days": {"type": "integer"}}, "apply": to_recall},
        {"name": "membership_tier", "label": _l("Membership tier"),
         "params": {"tiers": {"type": "list", "of": "tier code"}}, "apply": by_tier},
        {"name": "membership_points", "label": _l("Points balance"),
         "params": {"min": {"type": "integer"}, "max": {"type": "integer"}}, "apply": by_balance},
    ]


# --- personal data ---------------------------------------------------------------------------------

@hookimpl
def customer_export(customer, ctx):
    exported = services.export(ctx.session, customer)
    extra = {"reward_redemptions": rewards.export(ctx.session, customer.id),
             "gifts": gifts.export(ctx.session, customer.id), "events": events.export(ctx.session, customer.id)}
    if any(extra.values()):
        exported = {**(exported or {}), **extra}
    return exported


@hookimpl
def customer_erased(customer_id, ctx):
    rewards.erase(ctx.session, customer_id)
    gifts.erase(ctx.session, customer_id)
    events.erase(ctx.session, customer_id)
    services.erase(ctx.session, customer_id)


@hookimpl
def sandbox_reset(store, customer_ids, ctx):
    from plugins.membership.services import sandbox

    return sandbox.reset(ctx.session, store, customer_ids)


@hookimpl
def customer_merged(kept, merged, ctx):
    moved = {**rewards.merge(ctx.session, kept.id, merged.id), **gifts.merge(ctx.session, kept.id, merged.id),
             **events.merge(ctx.session, kept.id, merged.id)}
    return {**(services.merge(ctx.session, kept, merged) or {}), **moved}


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


@hookimpl
def timeline_text(activities, ctx):
    return labels.timeline_text(ctx.session, activities)


@hookimpl
def webhook_event_types():
    return [{"type": "membership.tier_changed", "label": _l("Membership tier changed")}]
