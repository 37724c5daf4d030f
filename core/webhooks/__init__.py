"""Webhooks: signed HTTP deliveries of events to an owner's subscribers (docs/webhooks.md).

Plugins emit their own declared events (`webhook_event_types`) with `emit_event`."""

from core.webhooks.outbox import emit_event

__all__ = ["emit_event"]
