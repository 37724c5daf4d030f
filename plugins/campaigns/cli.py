"""`storecrm campaigns …`: what a manager or owner runs by hand."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

campaigns = AppGroup("campaigns", help="Campaigns: automations, sending, reports, the outbox.")


@campaigns.command("automations")
def automations():
    """Run today's care automations in every store with campaigns on (safe to run again)."""
    from plugins.campaigns.jobs import run_automations

    for store, counts in run_automations().items():
        click.echo(f"{store}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@campaigns.command("resume")
def resume():
    """Queue campaigns whose quiet hours or schedule ended, and any still sending."""
    from plugins.campaigns.jobs import resume_campaigns

    click.echo(f"{resume_campaigns()} campaigns resumed.")


@campaigns.command("report")
@click.argument("campaign_id", type=int)
def report(campaign_id):
    """Print a campaign's report as JSON."""
    from core.extensions import db
    from plugins.campaigns.models import Campaign
    from plugins.campaigns.services.effect import report as build

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"no campaign {campaign_id}")
    click.echo(json.dumps(build(db.session, campaign), ensure_ascii=False, indent=2))


@campaigns.command("export-outbox")
@click.option("--all", "everything", is_flag=True, help="Include entries exported before.")
def export_outbox(everything):
    """Print the outbox as CSV (to send by hand) and mark the entries exported."""
    import csv
    import sys

    from sqlalchemy import select

    from core.extensions import db
    from core.models import utcnow
    from plugins.campaigns.models import OutboxEntry

    stmt = select(OutboxEntry).order_by(OutboxEntry.id)
    if not everything:
        stmt = stmt.where(OutboxEntry.exported_at.is_(None))
    writer = csv.writer(sys.stdout)
    writer.writerow(["id", "customer_id", "user_id", "topic", "subject", "body"])
    now = utcnow()
    for entry in db.session.scalars(stmt):
        writer.writerow([entry.id, entry.customer_id, entry.user_id, entry.topic, entry.subject, entry.body])
        entry.exported_at = now
    db.session.commit()
