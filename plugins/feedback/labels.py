"""What a person reads for each code: states, categories, channels, SLA states (zh_CN via Babel)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATE_LABELS = {"new": _l("New"), "acknowledged": _l("Acknowledged"), "in_progress": _l("In progress"),
                "resolved": _l("Resolved"), "closed": _l("Closed")}
# The button that makes each move; moving back to in_progress from resolved/closed reopens.
ACTION_LABELS = {"acknowledged": _l("Acknowledge"), "in_progress": _l("Start handling"), "resolved": _l("Resolve"),
                 "closed": _l("Close")}
CATEGORY_LABELS = {"product_quality": _l("Product quality"), "service_attitude": _l("Service attitude"),
                   "environment": _l("Environment"), "price": _l("Price"), "other": _l("Other")}
CHANNEL_LABELS = {"comment_book": _l("Comment book"), "survey": _l("Survey"), "website": _l("Website form"),
                  "social": _l("Social message"), "counter": _l("At the counter")}
SLA_LABELS = {"on_track": _l("On track"), "due_soon": _l("Due soon"), "overdue": _l("Overdue"),
              "met": _l("Met"), "missed": _l("Missed")}
BREACH_LABELS = {"first_response": _l("First response overdue"), "resolution": _l("Resolution overdue")}


def label(table: dict, code: str | None) -> str:
    return str(table.get(code, code or ""))


def action_label(from_state: str, to_state: str) -> str:
    if to_state == "in_progress" and from_state in ("resolved", "closed"):
        return str(_l("Reopen"))
    return str(ACTION_LABELS.get(to_state, to_state))
