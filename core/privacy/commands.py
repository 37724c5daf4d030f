"""`storecrm keys rotate`, `storecrm customers export ID` (attached by core/cli.py)."""

from __future__ import annotations

import json
import os

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("rotate")
@click.option("--batch", default=500, show_default=True, help="rows re-encrypted per transaction")
@with_appcontext
def keys_rotate(batch):
    """Re-encrypt personal data under the newest key of STORECRM_DATA_KEY.

    Put the new key first and keep the old ones after it (NEW,OLD), run this, then drop the old
    keys. It can be stopped and run again: rows already under the new key are skipped."""
    from core.extensions import db
    from core.privacy.rotation import rotate_keys

    cipher = current_app.extensions["storecrm.cipher"]

    def progress(table, last_id):
        click.echo(f"  {table}: up to id {last_id}")

    report = rotate_keys(db.session, cipher, db.metadata, batch=batch, on_batch=progress)
    for table in report.tables:
        click.echo(f"{table.table} ({', '.join(table.columns)}): {table.rotated} re-encrypted, {table.skipped} already current")
    click.echo(f"done: {report.rotated} rows re-encrypted; the old keys can now be removed from STORECRM_DATA_KEY")


@click.command("export")
@click.argument("customer_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write to FILE instead of stdout")
@with_appcontext
def customers_export(customer_id, output):
    """Print everything stored about customer ID as JSON (audited)."""
    from core.errors import NotFound
    from core.extensions import db
    from core.privacy.export import export_customer
    from core.services.customers import get_customer

    try:
        customer = get_customer(db.session, customer_id)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    document = export_customer(db.session, customer, actor="cli")
    db.session.commit()
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if output:
        # Everything stored about a person: readable by the shop's account only, like a backup.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # also when the file existed with a wider mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        click.echo(f"customer {customer_id} exported to {output}", err=True)
    else:
        click.echo(text)


@click.command("purge-expired")
@with_appcontext
def privacy_purge_expired():
    """Erase now the customers past their store's retention period (the nightly job)."""
    from core.extensions import db
    from core.privacy.retention import purge_expired

    total = 0
    while count := purge_expired(db.session):
        db.session.commit()
        total += count
    click.echo(f"{total} inactive customers erased")


def attach(cli, keys) -> None:
    """Add the privacy and backup commands to the `storecrm` group."""
    from core.backup import backup_command, restore_command

    keys.add_command(keys_rotate)
    customers = cli.commands.get("customers")
    if customers is None:
        @cli.group("customers")
        def customers():
            """Customer data."""
    customers.add_command(customers_export)
    privacy = cli.commands.get("privacy")
    if privacy is None:
        @cli.group("privacy")
        def privacy():
            """Personal data: retention."""
    privacy.add_command(privacy_purge_expired)
    cli.add_command(backup_command)
    cli.add_command(restore_command)
