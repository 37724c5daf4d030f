"""Subscriptions: made, changed and removed by an owner; the rules as plain functions on a session."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from core.audit import audit
from core.errors import InvalidInput, NotFound
from core.models import Store, WebhookDelivery, WebhookSubscription
from core.webhooks.catalogue import event_types
from core.webhooks.routing import routes
from core.webhooks.urls import UrlRefused, check_url


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _checked(session, data: dict) -> dict:
    out = {}
    if "url" in data:
        try:
            out["url"] = check_url((data["url"] or "").strip())
        except UrlRefused as exc:
            raise InvalidInput(str(exc), fields={"url": [str(exc)]}, details={"reason": exc.reason}) from exc
    if "event_types" in data:
        kinds = list(dict.fromkeys(data["event_types"] or []))
        unknown = [k for k in kinds if k not in event_types()]
        if not kinds or unknown:
            message = f"Unknown event types: {', '.join(unknown)}." if unknown else "Name at least one event type."
            raise InvalidInput(message, fields={"event_types": [message]})
        out["event_types"] = kinds
    if "store" in data:
        code = data["store"]
        store = session.scalars(select(Store).where(Store.code == code)).first() if code else None
        if code and store is None:
            raise InvalidInput(f"Unknown store {code}.", fields={"store": [f"Unknown store {code}."]})
        out["store_id"] = store.id if store else None
    for name in ("description", "personal_data", "active"):
        if name in data:
            out[name] = data[name]
    return out


def create_subscription(session, data: dict, *, user=None) -> tuple[WebhookSubscription, str]:
    """Subscribe `data["url"]` to `data["event_types"]` (in `data["store"]`, or chain-wide).
    Returns the subscription and its signing secret, which is shown only this once."""
    values = _checked(session, {"store": None, **data})
    for required in ("url", "event_types"):
        if required not in values:
            raise InvalidInput(f"{required} is required", fields={required: ["Missing data for required field."]})
    secret = new_secret()
    subscription = WebhookSubscription(secret=secret, created_by_user_id=getattr(user, "id", None),
                                       description=values.pop("description", "") or "", **values)
    session.add(subscription)
    session.flush()
    audit("webhook_subscribe", actor=user, target=("webhook_subscription", subscription.id), session=session,
          details={"url": subscription.url, "event_types": subscription.event_types,
                   "personal_data": bool(subscription.personal_data)})
    routes().forget()
    return subscription, secret


def update_subscription(session, subscription: WebhookSubscription, data: dict, *, user=None) -> WebhookSubscription:
    for name, value in _checked(session, data).items():
        setattr(subscription, name, value)
    session.flush()
    audit("webhook_change", actor=user, target=("webhook_subscription", subscription.id), session=session,
          details={"fields": sorted(data)})
    routes().forget()
    return subscription


def delete_subscription(session, subscription: WebhookSubscription, *, user=None) -> None:
    audit("webhook_delete", actor=user, target=("webhook_subscription", subscription.id), session=session,
          details={"url": subscription.url})
    session.delete(subscription)
    session.flush()
    routes().forget()


def subscription_or_404(session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return subscription


def delivery_or_404(session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return delivery
