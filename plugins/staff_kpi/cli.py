"""`storecrm staff_kpi …`: what an owner runs by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

staff_kpi = AppGroup("staff_kpi", help="Staff performance: roll-ups and checks.")


def _stores(codes):
    from core.extensions import db
    from core.models import Store, StorePlugin

    query = select(Store).order_by(Store.code)
    if codes:
        query = query.where(Store.code.in_(codes))
        stores = list(db.session.scalars(query))
        missing = sorted(set(codes) - {s.code for s in stores})
        if missing:
            raise click.ClickException(f"unknown store code: {', '.join(missing)}")
        return stores
    return list(db.session.scalars(query.join(StorePlugin, StorePlugin.store_id == Store.id)
                                   .where(StorePlugin.plugin == "staff_kpi", StorePlugin.enabled.is_(True))))


@staff_kpi.command("rebuild")
@click.option("--store", "store_codes", multiple=True, help="Only these stores (default: every store with staff_kpi on).")
def rebuild(store_codes):
    """Rewrite the daily roll-up from the first sale to today. Safe to run again."""
    from core.extensions import db
    from plugins.staff_kpi.services.rollup import rebuild_history

    for store in _stores(store_codes):
        covered = rebuild_history(db.session, store)
        db.session.commit()
        click.echo(f"{store.code}: " + (f"{covered[0]} – {covered[1]} rebuilt" if covered else "no sales"))


@staff_kpi.command("check")
@click.option("--store", "store_codes", multiple=True)
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]))
def check(store_codes, first, last):
    """Compare the roll-up and sale facts with a recomputation from the sales; exit 1 on any difference."""
    from flask import current_app

    from core.extensions import db
    from plugins.staff_kpi.services.figures import customer_figures, customer_figures_from_ledger, from_ledger, from_rollup
    from plugins.staff_kpi.services.periods import period_for

    reg = current_app.extensions["storecrm.plugins"]
    bad = 0
    for store in _stores(store_codes):
        period = period_for(store.tz, first.date(), last.date())
        settings = reg.settings(store, "staff_kpi")
        attribution, window = settings["refund_attribution"], settings["repurchase_window_days"]
        kept, fresh = from_rollup(db.session, store, period, attribution), from_ledger(db.session, store, period, attribution)
        same = kept == fresh and (customer_figures(db.session, store, period, window)
                                  == customer_figures_from_ledger(db.session, store, period, window))
        bad += not same
        click.echo(f"{store.code}: {'same' if same else 'DIFFERENT (run staff_kpi rebuild)'}")
    if bad:
        raise SystemExit(1)
