"""`storecrm membership …`: what an owner runs by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

membership = AppGroup("membership", help="Membership: tiers and points.")


@membership.command("recount")
@click.option("--store", "store_codes", multiple=True, help="Only these stores (default: every store with membership on).")
def recount(store_codes):
    """Count past sales (an imported history) towards tiers. Safe to run again."""
    from core.extensions import db
    from core.models import Store
    from plugins.membership.services import recount_history

    store_ids = None
    if store_codes:
        store_ids = list(db.session.scalars(select(Store.id).where(Store.code.in_(store_codes))))
        if len(store_ids) != len(set(store_codes)):
            raise click.ClickException("unknown store code")
    result = recount_history(db.session, store_ids)
    db.session.commit()
    click.echo(f"{result['sales']} past sales and {result['refunds']} refunds counted; "
               f"{result['promoted']} customers moved up a tier.")


@membership.command("expire")
def expire():
    """Expire points past their date now (the daily job does this too)."""
    from core.extensions import db
    from plugins.membership.services import expire_points

    click.echo(f"{expire_points(db.session)} points expired.")
