"""`storecrm feedback …`: what an owner runs by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

feedback = AppGroup("feedback", help="Feedback: complaints, SLA alerts and surveys.")


@feedback.command("check-sla")
def check_sla():
    """Raise SLA breach alerts now (the job does this every 5 minutes)."""
    from plugins.feedback.jobs import raise_breach_alerts

    click.echo(f"{raise_breach_alerts()} new breach alerts.")


@feedback.command("send-surveys")
def send_surveys():
    """Send the satisfaction surveys that are due now (the job does this hourly)."""
    from plugins.feedback.jobs import send_due_surveys

    counts = send_due_surveys()
    click.echo(f"{counts['sent']} surveys sent, {counts['no_channel']} with no channel, {counts['skipped']} skipped.")
