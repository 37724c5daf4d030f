"""What people read instead of codes: every move kind and state, in the viewer's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

MOVE_KIND_LABELS = {
    # In a context of their own: the core reads "Sale" and "Refund" as a customer's 消费 and 退款.
    "sale": lazy_pgettext("stock move", "Sale"), "refund": lazy_pgettext("stock move", "Refund"), "receipt": lazy_pgettext("stock move", "Receipt"), "adjustment": lazy_pgettext("stock move", "Adjustment"),
    "transfer_out": _l("Transfer out"), "transfer_in": _l("Transfer in"), "stocktake": _l("Stocktake"),
}
ORDER_STATUS_LABELS = {
    "draft": _l("Draft"), "sent": _l("Sent"), "partly_received": _l("Partly received"), "received": _l("Received"),
    "cancelled": _l("Cancelled"),
}
STOCKTAKE_STATUS_LABELS = {"open": _l("Counting"), "posted": _l("Posted"), "cancelled": _l("Cancelled")}
TRANSFER_STATUS_LABELS = {"in_transit": _l("In transit"), "received": _l("Received"), "cancelled": _l("Cancelled")}
SUGGESTION_METHOD_LABELS = {"min_max": _l("Min/max"), "velocity": _l("Sales velocity")}


def label(table: dict, code: str | None) -> str:
    return str(table.get(code, code or ""))
