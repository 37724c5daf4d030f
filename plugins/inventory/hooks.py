"""Inventory's hookimpls: thin, each calls a service."""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.models import Store, User
from core.plugins import HookContext, hookimpl, in_transaction
from plugins.inventory.services import ledger, stock

log = logging.getLogger(__name__)
PLUGIN = "inventory"


def store_managers(session, store) -> list[User]:
    return list(session.scalars(select(User).where(User.stores.any(Store.id == store.id), User.role == "manager",
                                                   User.active.is_(True)).order_by(User.id)))


def staff_notifier(ctx: HookContext) -> ledger.Notify | None:
    """Tell the store's managers through the plugins that own message channels (campaigns'
    `staff_notification`), never an import of them. True when one took it. None when no plugin
    enabled in the store takes staff messages (the alert row and the dashboard still show it).
    A failing channel never undoes the stock change."""
    reg = ctx.registry
    names = [n for n in reg.implementers("staff_notification", reg.enabled_in(ctx.store)) if n != PLUGIN]
    if not names:
        return None

    def notify(topic: str, data: dict) -> bool:
        users = store_managers(ctx.session, ctx.store)
        if not users:
            return False
        for name in names:
            try:
                with ctx.session.begin_nested():
                    answers = reg.caller_for("staff_notification", name)(
                        users=users, topic=topic, data={**data, "store": ctx.store.code}, ctx=ctx.for_plugin(name))
            except Exception:  # noqa: BLE001 - the alert stands; the message is best effort
                log.exception("staff_notification of %s failed for %s", name, topic)
                continue
            if any(answers):
                return True
        return False

    return notify


def default_safety(ctx: HookContext) -> Decimal:
    return Decimal(ctx.settings()["default_safety_stock"])


# --- registration -----------------------------------------------------------------------------------

@hookimpl
def register_blueprints(app):
    from plugins.inventory import api_flows  # noqa: F401 - registers its routes on the same blueprint
    from plugins.inventory.api import bp

    app.register_blueprint(bp)
    app.register_blueprint(Blueprint("inventory_templates", __name__, template_folder="templates"))


@hookimpl
def register_admin_views(admin, app):
    from plugins.inventory.admin import register

    register(admin, app)


@hookimpl
def register_cli_commands(cli):
    from plugins.inventory.cli import inventory

    cli.add_command(inventory)


@hookimpl
def register_jobs(scheduler):
    from plugins.inventory import jobs

    # 06:30 on each store's clock, before opening.
    scheduler.cron(jobs.review_alerts, "30 6 * * *", name="inventory.review_alerts", per_store=True)


# --- checks and quotes (the till path) -----------------------------------------------------------------

@hookimpl
def sale_validate(sale, customer, ctx):
    if not ctx.settings()["allow_negative_stock"]:
        ledger.check_stock_covers_sale(ctx.session, ctx.store, sale)


@hookimpl
def sale_quote(cart, customer, ctx):
    return ledger.quote_warnings(ctx.session, ctx.store, ctx.settings(), cart)


# --- events: the stock decrement the below-zero rule checks, so in the sale's transaction ---------------

@hookimpl
@in_transaction
def sale_recorded(sale, ctx):
    # The decrement and the alert row; the managers are told after the commit (below).
    ledger.record_sale(ctx.session, sale, default_safety=default_safety(ctx), user=ctx.user, actor=ctx.actor)


@hookimpl(specname="sale_recorded")
def sale_recorded_follow_up(sale, ctx):
    # After the commit: tell the managers of the alerts the sale raised (a message is slow; the
    # till's answer does not need it). The sales of a delivery batch are looked up together.
    notify = staff_notifier(ctx)
    products = sorted({line.product_id for line in sale.lines if line.product_id is not None})
    if notify is not None and products:
        ctx.once_per_batch(("inventory", "alerts", sale.store_id),
                           lambda session, ids: ledger.notify_open_alerts(session, sale.store_id, ids, notify),
                           *products)


@hookimpl
@in_transaction
def sale_refunded(sale, refund, ctx):
    # Stock put back raises no alert (it may clear one): nobody to tell.
    ledger.record_refund(ctx.session, sale, refund, default_safety=default_safety(ctx), user=ctx.user, actor=ctx.actor)


# --- contributions -----------------------------------------------------------------------------------

@hookimpl
def dashboard_widgets(store, period, ctx):
    from core.admin.base import chain_view_stores

    reg = ctx.registry
    stores = [store] if store is not None else [s for s in chain_view_stores() if reg.is_enabled(s, PLUGIN)]
    ids = [s.id for s in stores]
    defaults = {s.id: Decimal(reg.settings(s, PLUGIN)["default_safety_stock"]) for s in stores}
    below = stock.below_safety_count(ctx.session, ids, defaults)
    value = stock.stock_value(ctx.session, ids)
    return [
        {"title": _("Below safety stock"), "value": f"{below:,}", "note": _("products to reorder")},
        {"title": _("Stock value at cost"), "value": f"¥{value:,.2f}"},
    ]


@hookimpl
def stock_change(store, sku, quantity, reason, source_key, ctx):
    return ledger.change_for_plugin(ctx.session, store, sku, quantity, reason, source_key,
                                    default_safety=default_safety(ctx), allow_negative=ctx.settings()["allow_negative_stock"],
                                    user=ctx.user, actor=ctx.actor, notify=staff_notifier(ctx))


@hookimpl
def demo_seed(store, rng, today, ctx):
    from plugins.inventory.services.demo import seed

    seed(ctx.session, store, rng, today, actor=ctx.actor)


@hookimpl
def webhook_event_types():
    return [{"type": "inventory.stock_below_safety", "label": _l("Stock below safety stock")}]


@hookimpl
def sandbox_reset(store, customer_ids, ctx):
    from plugins.inventory.services import sandbox

    return sandbox.reset(ctx.session, store, customer_ids)
