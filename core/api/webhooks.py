"""Webhook subscriptions and deliveries: an owner's (docs/webhooks.md)."""

from __future__ import annotations

from flask import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from core.api.fields import Id
from core.api.http import endpoint, keyset_page, principal
from core.api.schemas import Strict
from core.extensions import db
from core.models import DELIVERY_STATES, WebhookDelivery, WebhookSubscription
from core.roles import role_for
from core.webhooks import sender
from core.webhooks import services as svc
from core.webhooks.catalogue import event_types

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.storecrm_tag = "webhooks"
MANAGE = role_for("webhooks.manage")


class EventTypeOut(Strict):
    type = fields.String(required=True, metadata={"description": "e.g. sale.recorded, membership.tier_changed"})
    label = fields.String(required=True)


class SubscriptionIn(Strict):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                        metadata={"description": "http(s) URL; private, loopback and link-local addresses are "
                                                 "refused unless the instance allows them"})
    event_types = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                              validate=validate.Length(min=1, max=50))
    store = fields.String(load_default=None, allow_none=True,
                          metadata={"description": "a store code; null: every store of the chain"})
    description = fields.String(load_default="", validate=validate.Length(max=200))
    personal_data = fields.Boolean(load_default=False,
                                   metadata={"description": "send phone, e-mail and name in clear (default: masked)"})


class SubscriptionPatch(Strict):
    url = fields.String(validate=validate.Length(min=1, max=2000))
    event_types = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(min=1, max=50))
    store = fields.String(allow_none=True)
    description = fields.String(validate=validate.Length(max=200))
    personal_data = fields.Boolean()
    active = fields.Boolean()


class SubscriptionOut(Strict):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    store = fields.String(required=True, allow_none=True)
    event_types = fields.List(fields.String(), required=True)
    personal_data = fields.Boolean(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    secret = fields.String(metadata={"description": "the signing secret: only in the answer that creates the "
                                                    "subscription; store it, it is not shown again"})


class DeliveryQuery(Strict):
    subscription = Id(strict=False, metadata={"description": "only this subscription's deliveries"})
    status = fields.String(validate=validate.OneOf(DELIVERY_STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500),
                           metadata={"description": "page size"})
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500),
                           metadata={"description": "page size"})
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class DeliveryOut(Strict):
    id = fields.Integer(required=True)
    subscription_id = fields.Integer(required=True)
    event_id = fields.Integer(required=True)
    event_type = fields.String(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATES))
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.AwareDateTime(required=True, allow_none=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    delivered_at = fields.AwareDateTime(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)


def subscription_dict(subscription: WebhookSubscription, secret: str | None = None) -> dict:
    out = {"id": subscription.id, "url": subscription.url, "description": subscription.description,
           "store": subscription.store.code if subscription.store else None,
           "event_types": list(subscription.event_types or []), "personal_data": bool(subscription.personal_data),
           "active": bool(subscription.active), "created_at": subscription.created_at}
    if secret is not None:
        out["secret"] = secret
    return out


@endpoint(bp, "/event-types", "GET", summary="The event types a webhook can subscribe to (the core's and the plugins')",
          response=EventTypeOut, many=True, role=MANAGE, errors=(401, 403))
def list_event_types():
    return [{"type": kind, "label": str(label)} for kind, label in event_types().items()]


@endpoint(bp, "/subscriptions", "POST", summary="Subscribe a URL to event types; the answer shows the signing secret once",
          body=SubscriptionIn, response=SubscriptionOut, status=201, role=MANAGE, errors=(400, 401, 403))
def create_subscription(body):
    subscription, secret = svc.create_subscription(db.session, body, user=principal().user)
    db.session.commit()
    return subscription_dict(subscription, secret), 201


@endpoint(bp, "/subscriptions", "GET", summary="List webhook subscriptions", query=PageQuery,
          response=SubscriptionOut, paginated=True, role=MANAGE, errors=(400, 401, 403))
def list_subscriptions(args):
    rows, next_cursor = keyset_page(select(WebhookSubscription), WebhookSubscription.id, args.get("cursor"),
                                    args["limit"])
    return {"items": [subscription_dict(s) for s in rows], "next_cursor": next_cursor}


@endpoint(bp, "/subscriptions/<int:subscription_id>", "GET", summary="Read a webhook subscription",
          response=SubscriptionOut, role=MANAGE, errors=(401, 403, 404))
def get_subscription(subscription_id):
    return subscription_dict(svc.subscription_or_404(db.session, subscription_id))


@endpoint(bp, "/subscriptions/<int:subscription_id>", "PATCH", summary="Change, pause or resume a webhook subscription",
          body=SubscriptionPatch, response=SubscriptionOut, role=MANAGE, errors=(400, 401, 403, 404))
def patch_subscription(subscription_id, body):
    subscription = svc.subscription_or_404(db.session, subscription_id)
    svc.update_subscription(db.session, subscription, body, user=principal().user)
    db.session.commit()
    return subscription_dict(subscription)


@endpoint(bp, "/subscriptions/<int:subscription_id>", "DELETE",
          summary="Remove a webhook subscription and its deliveries", response=SubscriptionOut,
          role=MANAGE, errors=(401, 403, 404))
def delete_subscription(subscription_id):
    subscription = svc.subscription_or_404(db.session, subscription_id)
    answer = subscription_dict(subscription)
    svc.delete_subscription(db.session, subscription, user=principal().user)
    db.session.commit()
    return answer


@endpoint(bp, "/deliveries", "GET", summary="List webhook deliveries (oldest first), by subscription and status",
          query=DeliveryQuery, response=DeliveryOut, paginated=True, role=MANAGE, errors=(400, 401, 403))
def list_deliveries(args):
    stmt = select(WebhookDelivery)
    if args.get("subscription"):
        stmt = stmt.where(WebhookDelivery.subscription_id == args["subscription"])
    if args.get("status"):
        stmt = stmt.where(WebhookDelivery.status == args["status"])
    rows, next_cursor = keyset_page(stmt, WebhookDelivery.id, args.get("cursor"), args["limit"])
    return {"items": rows, "next_cursor": next_cursor}


@endpoint(bp, "/deliveries/<int:webhook_delivery_id>/replay", "POST",
          summary="Send a delivery again (a failed one, or one delivered that the receiver lost)",
          response=DeliveryOut, status=202, role=role_for("webhooks.replay"), errors=(401, 403, 404))
def replay_delivery(webhook_delivery_id):
    delivery = svc.delivery_or_404(db.session, webhook_delivery_id)
    sender.replay(db.session, delivery)
    db.session.commit()
    sender.send_soon()
    db.session.expire_all()
    return svc.delivery_or_404(db.session, webhook_delivery_id), 202
