"""The event types a webhook can subscribe to: the core's, and those plugins declare
(`webhook_event_types`). Each has a translated label for the admin."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

# Core hook/event name (the outbox's `event.name`) -> the webhook event type.
CORE_EVENTS = {
    "customer_created": "customer.created",
    "customer_updated": "customer.updated",
    "customer_merged": "customer.merged",
    "customer_erased": "customer.erased",
    "sale_recorded": "sale.recorded",
    "sale_refunded": "sale.refunded",
    "visit_recorded": "visit.recorded",
}
CORE_LABELS = {
    "customer.created": _l("Customer created"),
    "customer.updated": _l("Customer updated"),
    "customer.merged": _l("Customers merged"),
    "customer.erased": _l("Customer erased"),
    "sale.recorded": _l("Sale recorded"),
    "sale.refunded": _l("Sale refunded"),
    "visit.recorded": _l("Visit recorded"),
}


def webhook_type(event_name: str) -> str:
    """The webhook type of an outbox event: the core's mapped, a plugin's (already dotted) as is."""
    return CORE_EVENTS.get(event_name, event_name)


def event_types(app=None) -> dict[str, object]:
    """Every subscribable type -> its label: the core's, then each installed plugin's.
    Collected once per app (plugins are registered at start-up)."""
    app = app or current_app._get_current_object()
    cached = app.extensions.get("storecrm.webhook_types")
    if cached is None:
        reg = app.extensions["storecrm.plugins"]
        cached = dict(CORE_LABELS)
        for name in reg.implementers("webhook_event_types", reg.manifests):
            results = reg.caller_for("webhook_event_types", name)()
            for declared in (results[0] if results else None) or []:
                kind = declared["type"]
                if not kind.startswith(f"{name}."):
                    raise ValueError(f"plugin {name} declares webhook event {kind!r}: it must start with '{name}.'")
                # Not `label or kind`: a lazy label's truth is its translation, which needs a request.
                label = declared.get("label")
                cached[kind] = kind if label is None else label
        app.extensions["storecrm.webhook_types"] = cached
    return cached


def plugin_of(kind: str) -> str | None:
    """The plugin a type belongs to (None for the core's)."""
    return None if kind in CORE_LABELS else kind.split(".", 1)[0]
