"""Scheduled feedback work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from flask import current_app

from core.extensions import db
from plugins.feedback.services import alerts, surveys


def raise_breach_alerts() -> int:
    """Every 5 minutes: one alert per SLA breach, to the store's managers (and the dashboard)."""
    return alerts.raise_breach_alerts(db.session, current_app.extensions["storecrm.plugins"])


def send_due_surveys() -> dict:
    """Hourly: satisfaction surveys whose delay after the sale or resolution has passed."""
    return surveys.send_due_surveys(db.session, current_app.extensions["storecrm.plugins"])
