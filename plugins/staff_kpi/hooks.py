"""staff_kpi's hookimpls: thin, each calls a service."""

from __future__ import annotations

from flask import Blueprint

from core.plugins import hookimpl
from plugins.staff_kpi.services import rollup, sale_facts, widgets


# --- registration -----------------------------------------------------------------------------------

@hookimpl
def register_blueprints(app):
    from plugins.staff_kpi.api import bp

    app.register_blueprint(bp)
    # No routes: makes templates/staff_kpi/* available to render_template.
    app.register_blueprint(Blueprint("staff_kpi_templates", __name__, template_folder="templates"))


@hookimpl
def register_admin_views(admin, app):
    from plugins.staff_kpi.admin import register

    register(admin, app)


@hookimpl
def register_cli_commands(cli):
    from plugins.staff_kpi.cli import staff_kpi

    cli.add_command(staff_kpi)


@hookimpl
def register_jobs(scheduler):
    from plugins.staff_kpi import jobs

    # 03:20 on each store's clock, after closing.
    scheduler.cron(jobs.refresh_rollups, "20 3 * * *", name="staff_kpi.refresh_rollups", per_store=True)


# --- events: after the commit (undecorated) — the till never waits for a roll-up ------------------

@hookimpl
def plugin_enabled(store, ctx):
    rollup.rebuild_history(ctx.session, store)


# After the commit, once per delivery batch and store: a busy till's sales share their roll-up.
@hookimpl
def sale_recorded(sale, ctx):
    ctx.once_per_batch(("staff_kpi", sale.store_id), _refresh_store(sale.store_id), *rollup.touched_by_sale(sale))


@hookimpl
def sale_refunded(sale, refund, ctx):
    ctx.once_per_batch(("staff_kpi", sale.store_id), _refresh_store(sale.store_id),
                       *rollup.touched_by_refund(sale, refund))


def _refresh_store(store_id):
    return lambda session, touched: rollup.refresh(session, store_id, touched)


# --- personal data: the sale facts name the customer --------------------------------------------------

@hookimpl
def customer_export(customer, ctx):
    rows = sale_facts.export(ctx.session, customer.id)
    return {"sale_facts": rows} if rows else None


@hookimpl
def customer_erased(customer_id, ctx):
    sale_facts.erase(ctx.session, customer_id)


@hookimpl
def sandbox_reset(store, customer_ids, ctx):
    from plugins.staff_kpi.services import sandbox

    return sandbox.reset(ctx.session, store, customer_ids)


@hookimpl
def customer_merged(kept, merged, ctx):
    sale_facts.merge(ctx.session, kept.id, merged.id)


# --- contributions -----------------------------------------------------------------------------------

@hookimpl
def dashboard_widgets(store, period, ctx):
    if store is None:
        return None
    return widgets.dashboard(ctx, store, period)


@hookimpl
def demo_seed(store, rng, today, ctx):
    from plugins.staff_kpi.services.demo import seed

    seed(ctx.session, store, rng, today)
