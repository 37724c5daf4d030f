"""Scheduled feedback work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from flask import current_app

from core.extensions import db
from plugins.feedback.services import alerts, surveys


def raise_breach_alerts() -> int:
    """Every 5 minutes: one alert per SLA breach, to the store's managers (and the dashboard)."""
    return alerts.raise_breach_alerts(db.session, current_app.extensions["storecrm.plugins"])


def send_due_surveys() -> dict:
    """By hand (`storecrm feedback send-surveys`): every store's due surveys, now."""
    return surveys.send_due_surveys(db.session, current_app.extensions["storecrm.plugins"])


def send_store_surveys(store_id: int) -> dict:
    """Daily in each store with feedback on, at its `survey_time` on its own clock
    (core/scheduling.py): every survey whose delay has passed by now, however late the run
    (what is due is read from the surveys themselves; a sent one is no longer pending, so a
    second run sends nothing). Batch after batch until none is left."""
    registry = current_app.extensions["storecrm.plugins"]
    total = {"sent": 0, "no_channel": 0, "skipped": 0}
    while True:
        counts = surveys.send_due_surveys(db.session, registry, store_id=store_id)
        for outcome, n in counts.items():
            total[outcome] += n
        if sum(counts.values()) < surveys.BATCH:
            return total
