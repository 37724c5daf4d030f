"""Which (store, event type) pairs have a subscriber, known without a query on the till's path.

The set is read from the database at most every `WEBHOOK_ROUTES_TTL` seconds per process
(default 10) and at once in the process that changes a subscription. So an event in a store
nobody subscribed to costs nothing, and a new subscription made in another process starts
receiving within that many seconds.

A sandbox (test) store's events go only to subscriptions made for that store, never to
chain-wide ones (docs/api.md, "Sandbox"): `sandbox_delivery_rule` is that rule, used here and
when the deliveries are written (core.webhooks.outbox)."""

from __future__ import annotations

import threading
import time

from flask import current_app
from sqlalchemy import select

from core.extensions import db

DEFAULT_TTL = 10.0


class WebhookRoutes:
    """Held by the app (`app.extensions["storecrm.webhook_routes"]`)."""

    def __init__(self):
        self._routes: frozenset[tuple[int | None, str]] | None = None
        self._sandboxes: frozenset[int] = frozenset()
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._routes = None

    def wanted(self, store_id: int | None, kind: str, ttl: float) -> bool:
        routes = self._routes
        if routes is None or time.monotonic() - self._loaded_at > ttl:
            routes = self._load()
        if (store_id, kind) in routes:
            return True
        return (None, kind) in routes and store_id not in self._sandboxes

    def _load(self) -> frozenset:
        from core.models import Store, WebhookSubscription

        rows = db.session.execute(select(WebhookSubscription.store_id, WebhookSubscription.event_types)
                                  .where(WebhookSubscription.active.is_(True))).all()
        routes = frozenset((store_id, kind) for store_id, kinds in rows for kind in (kinds or []))
        sandboxes = frozenset(db.session.scalars(select(Store.id).where(Store.sandbox.is_(True)))) if rows else frozenset()
        with self._lock:
            self._routes, self._sandboxes, self._loaded_at = routes, sandboxes, time.monotonic()
        return routes


def sandbox_delivery_rule(subscription_store_id: int | None, store) -> bool:
    """Whether a subscription (for a store, or chain-wide: None) receives an event of `store`
    (a Store or None): its own store's always; chain-wide ones unless the store is a sandbox."""
    if subscription_store_id is None:
        return store is None or not store.sandbox
    return store is not None and subscription_store_id == store.id


def routes(app=None) -> WebhookRoutes:
    app = app or current_app._get_current_object()
    return app.extensions.setdefault("storecrm.webhook_routes", WebhookRoutes())


def wanted(store_id: int | None, kind: str) -> bool:
    """Whether any active subscription takes `kind` from `store_id` (or chain-wide)."""
    ttl = float(current_app.config.get("WEBHOOK_ROUTES_TTL", DEFAULT_TTL))
    return routes().wanted(store_id, kind, ttl)


def forget_webhook_routes() -> None:
    """Read the routes anew in this process (a subscription or a store's sandbox flag changed)."""
    routes().forget()
