"""The plugin's hooks: thin, each calls a service. See docs/hooks.md for every hook."""

from flask import render_template
from markupsafe import Markup

from storecrm import hookimpl, in_transaction
from storecrm_stampcard import services


@hookimpl
def register_blueprints(app):
    from storecrm_stampcard.api import bp

    app.register_blueprint(bp)


@hookimpl
@in_transaction  # the till's answer shows the new balance, so it runs in the sale's transaction
def sale_recorded(sale, ctx):
    services.earn(ctx.session, sale, ctx.event_id)


@hookimpl
@in_transaction
def sale_refunded(sale, refund, ctx):
    services.give_back(ctx.session, sale, refund, ctx.event_id)


@hookimpl
def sale_result(sale, ctx):
    if sale.customer_id is None:
        return None
    return {"stamps": services.balance(ctx.session, sale.customer_id)}


@hookimpl
def customer_panels(customer, ctx):
    html = render_template("stampcard/panel.html", stamps=services.balance(ctx.session, customer.id))
    return [{"title": "Stamp card", "html": Markup(html), "order": 50}]


@hookimpl
def customer_export(customer, ctx):
    return services.export(ctx.session, customer.id)


@hookimpl
def customer_erased(customer_id, ctx):
    services.erase(ctx.session, customer_id)


@hookimpl
def customer_merged(kept, merged, ctx):
    return services.merge(ctx.session, kept.id, merged.id)
