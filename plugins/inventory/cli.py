"""`storecrm inventory …`: what a manager runs by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

inventory = AppGroup("inventory", help="Inventory: stock levels and alerts.")


@inventory.command("check")
@click.option("--store", "store_code", required=True, help="Store code.")
def check(store_code):
    """Compare every running total with the sum of its moves; exit 1 when one differs."""
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import Product, Store
    from plugins.inventory.models import Move, Stock

    store = db.session.scalars(select(Store).where(Store.code == store_code)).first()
    if store is None:
        raise click.ClickException(f"no store {store_code}")
    sums = (select(Move.product_id, func.sum(Move.quantity).label("total")).where(Move.store_id == store.id)
            .group_by(Move.product_id).subquery())
    rows = db.session.execute(select(Product.sku, Stock.quantity, func.coalesce(sums.c.total, 0))
                              .join(Product, Product.id == Stock.product_id)
                              .outerjoin(sums, sums.c.product_id == Stock.product_id)
                              .where(Stock.store_id == store.id, Stock.quantity != func.coalesce(sums.c.total, 0))).all()
    for sku, level, total in rows:
        click.echo(f"{sku}: level {level} but its moves add up to {total}")
    if rows:
        raise SystemExit(1)
    click.echo(f"{store_code}: every level equals the sum of its moves.")


@inventory.command("review-alerts")
def review_alerts_command():
    """Raise or clear safety-stock alerts as the levels stand (the daily job does this too)."""
    from plugins.inventory.jobs import review_alerts

    click.echo(f"{review_alerts()} stock rows reviewed.")
