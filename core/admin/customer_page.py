"""What the customer page shows beside its own actions: which stores a page covers, the labels
of codes it shows (channels, consent sources, sources, birthdays), its tiles and chart, and the
panels of the core and of the plugins enabled in the store."""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.admin.base import accessible_stores, current_store, current_user_or_none, registry, scope_store_ids
from core.extensions import db
from core.models import Customer
from core.plugins import HookContext

log = logging.getLogger(__name__)

CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("Email"), "wechat": _l("WeChat"), "phone_call": _l("Phone call")}


def user_scope() -> list[int] | None:
    """Stores whose customers the user may open (None: every store, for owners)."""
    user = current_user_or_none()
    if user is not None and user.role == "owner":
        return None
    return [s.id for s in accessible_stores()]


def view_scope() -> list[int] | None:
    """Stores the current page covers: the picked store, or the user's stores (None: chain)."""
    user = current_user_or_none()
    if user is not None and user.role == "owner" and current_store() is None:
        return None
    return scope_store_ids()


CONSENT_SOURCE_LABELS = {"paper_form": _l("Paper form"), "signup": _l("Sign-up"), "admin": _l("Entered in the admin"),
                         "till": _l("At the till"), "import": _l("Import"), "api": _l("Through the API"),
                         "unsubscribe_link": _l("Unsubscribe link"), "public_form": _l("Public form"),
                         "verbal": _l("Said in person")}


def consent_source_label(code: str | None) -> str:
    """How a consent was given or withdrawn, as a person reads it ("reply:sms": a reply by SMS)."""
    if not code:
        return ""
    if code.startswith("reply:"):
        return _("Reply (%(channel)s)", channel=str(CHANNEL_LABELS.get(code[6:], code[6:])))
    return str(CONSENT_SOURCE_LABELS.get(code, code))


SOURCE_LABELS = {"walk_in": _l("Walk-in"), "online_shop": _l("Online shop"), "social": _l("Social media"),
                 "import": _l("Import"), "referral": _l("Referral"), "till": _l("Till")}


def birthday_text(customer) -> str:
    """`1990-11-16`, or `11-16` when only month and day were given (never "--11-16")."""
    if not (customer.birth_month and customer.birth_day):
        return ""
    if customer.birth_year:
        return _("%(year)d-%(month)02d-%(day)02d", year=customer.birth_year, month=customer.birth_month,
                 day=customer.birth_day)
    return _("%(month)02d-%(day)02d", month=customer.birth_month, day=customer.birth_day)


def source_label(code: str | None) -> str:
    return str(SOURCE_LABELS.get(code, code or ""))


def customer_tiles(customer: Customer, store) -> dict:
    """The customer page's tiles and 12-month spending chart, over the stores the page covers
    (the same figures as the lists' columns: core/services/customer_figures.py)."""
    from zoneinfo import ZoneInfo

    from core.admin.dashboard import chart
    from core.admin.formatting import DEFAULT_TZ
    from core.services.customer_figures import empty_figures, monthly_spend, purchase_figures

    scope = view_scope()
    figures = purchase_figures(db.session, [customer.id], scope).get(customer.id) or empty_figures()
    labels, amounts = monthly_spend(db.session, customer.id, scope, ZoneInfo(getattr(store, "timezone", None) or DEFAULT_TZ))
    return {"figures": figures,
            "spending_chart": chart("bar", labels, [{"label": _("Spend (¥)"), "data": amounts}])}


def collect_panels(customer: Customer, ctx: HookContext) -> list[dict]:
    """The core's panels and those of the plugins enabled in `ctx.store`, by `order`. A panel
    that fails is replaced by a notice: one broken module must not hide the customer."""
    panels: list[dict] = []
    for provider in current_app.extensions.get("storecrm.core_panels", []):
        try:
            panel = provider(customer, ctx)
        except Exception:  # noqa: BLE001 - shown as a failed panel, logged with the traceback
            log.exception("core panel %r failed for customer %s", provider, customer.id)
            panel = _failed_panel(getattr(provider, "__name__", "core"))
        if panel:
            panels.extend(panel if isinstance(panel, list) else [panel])
    reg = registry()
    for name in reg.implementers("customer_panels", reg.enabled_in(ctx.store)):
        try:
            values = reg.caller_for("customer_panels", name)(customer=customer, ctx=ctx.for_plugin(name))
        except Exception:  # noqa: BLE001
            log.exception("plugin %s customer_panels failed for customer %s", name, customer.id)
            values = [[_failed_panel(name)]]
        for result in values:
            panels.extend(result if isinstance(result, list) else [result])
    return sorted((p for p in panels if p), key=lambda p: p.get("order", 100))


def _failed_panel(source: str) -> dict:
    return {"title": source, "order": 999,
            "html": Markup('<p class="text-danger">{}</p>').format(_("This section could not be shown; the error is logged."))}
