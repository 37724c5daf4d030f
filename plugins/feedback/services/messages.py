"""Asking other plugins to act, through hooks and never an import: tell a customer
(`customer_notification`), tell staff (`staff_notification`), ask for a coupon (`issue_coupon`).
Each answers "nobody took it" with False/None so the caller keeps its own record."""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import force_locale, gettext

from core.plugins import HookContext

log = logging.getLogger(__name__)
PLUGIN = "feedback"


def _takers(ctx: HookContext, hook: str) -> list[str]:
    reg = ctx.registry
    if reg is None or ctx.store is None:
        return []
    return [n for n in reg.implementers(hook, reg.enabled_in(ctx.store)) if n != PLUGIN]


def notify_customer(ctx: HookContext, customer, topic: str, data: dict) -> bool:
    """True when a channel owner took the message. A failing channel never undoes our change."""
    for name in _takers(ctx, "customer_notification"):
        try:
            with ctx.session.begin_nested():
                answers = ctx.registry.caller_for("customer_notification", name)(
                    customer=customer, topic=topic, data=data, ctx=ctx.for_plugin(name))
        except Exception:  # noqa: BLE001 - best effort: the ticket stands, the timeline keeps the note
            log.exception("customer_notification of %s failed for customer %s", name, customer.id)
            continue
        if any(answers):
            return True
    return False


def notify_staff(ctx: HookContext, users: list, topic: str, data: dict) -> bool:
    if not users:
        return False
    for name in _takers(ctx, "staff_notification"):
        try:
            with ctx.session.begin_nested():
                answers = ctx.registry.caller_for("staff_notification", name)(
                    users=users, topic=topic, data=data, ctx=ctx.for_plugin(name))
        except Exception:  # noqa: BLE001 - the alert row is kept whatever the channel does
            log.exception("staff_notification of %s failed (%s)", name, topic)
            continue
        if any(answers):
            return True
    return False


def request_coupon(ctx: HookContext, customer, spec: dict) -> dict | None:
    """The first coupon owner's answer `{"code", "label", "expires_on"}`, or None (no owner)."""
    for name in _takers(ctx, "issue_coupon"):
        answers = ctx.registry.caller_for("issue_coupon", name)(customer=customer, spec=spec, ctx=ctx.for_plugin(name))
        for answer in answers:
            if answer:
                return answer
    return None


def stored_text(message: str, **variables) -> str:
    """Text kept in the database (a timeline entry, a history note): in the installation's
    language (LOCALE), whoever or whatever wrote it — also outside a request (jobs, the demo),
    where the admin's locale selector has no session to read. Lazy labels in `variables` are
    rendered in the same language."""
    with force_locale(current_app.config.get("LOCALE") or "zh_CN"):
        return gettext(message, **{k: str(v) for k, v in variables.items()})
