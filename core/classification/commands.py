"""`storecrm classify recompute` (what the nightly job does, now) and `storecrm classify show ID`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


def attach(cli) -> None:
    group = click.Group("classify", help="Customer classification (amount, frequency, class, lifecycle, RFM).")

    @group.command("recompute")
    @click.option("--wait", is_flag=True, help="If another recompute is running, wait for it to finish and then "
                                               "run, instead of stopping.")
    @with_appcontext
    def recompute(wait):
        """Recompute every class in every store and the chain now (the nightly job)."""
        from core.classification.jobs import recompute_all_alone
        from core.extensions import db
        from core.locks import LockHeld
        from core.models import Store

        names = {s.id: s.code for s in db.session.query(Store)}
        db.session.rollback()  # no transaction open while this waits for the lock
        try:
            results = recompute_all_alone(db.session, wait=float("inf") if wait else None)
        except LockHeld as held:
            raise click.ClickException(f"not recomputed: {held} (the nightly job or another `storecrm classify "
                                       "recompute`). Try again when it has finished, or pass --wait.") from None
        for result in results:
            where = names.get(result["scope_id"], "chain")
            click.echo(f"{where}: {result['customers']} customers who bought, {result['buyers']} in the window "
                       f"({result['seconds']} s)")

    @group.command("show")
    @click.argument("customer_id", type=int)
    @click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
    @with_appcontext
    def show(customer_id, lang):
        """Every class of a customer with its reason in numbers."""
        from core.classification.models import CHAIN_SCOPE
        from core.classification.reasons import explain_scope
        from core.extensions import db
        from core.models import Customer, Store

        customer = db.session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None:
            raise click.ClickException(f"no customer {customer_id}")
        for scope_id in [s.id for s in db.session.query(Store).order_by(Store.code)] + [CHAIN_SCOPE]:
            scope = explain_scope(db.session, customer.id, scope_id, lang)
            if scope["final_class"] == "prospect" and scope_id != CHAIN_SCOPE:
                continue
            click.echo(f"[{scope['scope']}] {scope['summary']}")
            for key, reason in scope["reasons"].items():
                click.echo(f"  {key}: {reason}")

    cli.add_command(group)
