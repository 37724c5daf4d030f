"""Scheduled membership work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from flask import current_app

from core.extensions import db
from core.plugins import HookContext
from plugins.membership import services


def expire_points() -> int:
    """Daily: points past their date expire (default: at the end of the following year)."""
    return services.expire_points(db.session)


def yearly_review() -> dict:
    """Daily check; on the program's review date, once a year, every unlocked member is moved
    to the tier their spend qualifies for (保级), and told through campaigns where enabled."""
    from plugins.membership.hooks import notifier

    reg = current_app.extensions["storecrm.plugins"]

    def notify_for(customer):
        # The member hears about it through the channels of their home store.
        ctx = HookContext(session=db.session, store=customer.home_store, actor="yearly_review", registry=reg,
                          plugin="membership")
        return notifier(ctx)

    return services.yearly_review(db.session, notify_for=notify_for)
