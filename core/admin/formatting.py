"""How values read on screen: times on the store's wall clock, quantities, event names."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

KINDS = {
    "sale": _l("Sale"), "refund": _l("Refund"), "visit": _l("Visit"), "note": _l("Note"), "call": _l("Call"),
    "message": _l("Message"), "class_change": _l("Class"), "tier_change": _l("Tier"),
    "complaint": _l("Complaint"), "merge": _l("Merged"), "feedback": _l("Feedback"), "coupon": _l("Coupon"),
    "completed": _l("completed"), "partly_refunded": _l("partly refunded"), "refunded": _l("refunded"),
}
DEFAULT_TZ = "Asia/Shanghai"


def local_datetime(moment, store=None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as the store's clock shows it (the chain view uses Asia/Shanghai)."""
    if moment is None:
        return ""
    tz = ZoneInfo(getattr(store, "timezone", None) or DEFAULT_TZ)
    return moment.astimezone(tz).strftime(fmt)


def quantity(value) -> str:
    if value is None:
        return ""
    value = Decimal(value)
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else str(value.normalize())


def kind_label(kind: str) -> str:
    """A timeline entry's or a sale state's label; a kind a third-party plugin invented reads
    "Activity" rather than its code."""
    return str(KINDS.get(kind, _l("Activity"))) if kind else ""


def init_app(app) -> None:
    app.add_template_filter(local_datetime, "storecrm_datetime")
    app.add_template_filter(quantity, "storecrm_qty")
    app.add_template_global(kind_label, "storecrm_kind")
