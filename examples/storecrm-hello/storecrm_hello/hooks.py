"""The plugin's hookimpls: thin, each takes only the arguments it uses."""

from core.plugins import hookimpl
from core.services.customers import add_activity


@hookimpl
def sale_recorded(sale, ctx):
    # Runs only for stores that enabled the plugin, after the sale's commit (not marked
    # @in_transaction: the till's answer does not need it); the core records the delivery in
    # the same transaction as this write, so a retry never writes it twice.
    if sale.customer is not None:
        add_activity(ctx.session, sale.customer, "note", f"hello saw sale {sale.id}", store=ctx.store, source="hello")


@hookimpl
def sale_result(sale, ctx):
    return {"greeting": ctx.settings()["greeting"]}
