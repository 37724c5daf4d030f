"""/api/v1/membership/events…: member events, their invitations and registrations."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import fields, validate

from core.api.http import endpoint, principal
from core.extensions import db
from core.plugins import HookContext
from core.roles import role_for
from plugins.membership import services
from plugins.membership.api import _customer, bp
from plugins.membership.events import services as events
from plugins.membership.events.models import REGISTRATION_STATES
from plugins.membership.hooks import notifier
from plugins.membership.schemas import InStore, MembershipStoreQuery, Strict


class EventIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    starts_at = fields.AwareDateTime(required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    lowest_tier = fields.String(required=True, validate=validate.Length(min=1, max=32),
                                metadata={"description": "tier code: this tier and every higher one are invited"})
    registration_opens_at = fields.AwareDateTime(required=True, metadata={"description": "for the highest tier"})
    tier_lead_days = fields.Integer(load_default=3, validate=validate.Range(min=0, max=60),
                                    metadata={"description": "each lower tier opens this many days later"})
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class OpensOut(Strict):
    tier = fields.String()
    opens_at = fields.DateTime()


class EventOut(Strict):
    id = fields.Integer()
    name = fields.String()
    store = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    capacity = fields.Integer()
    registered = fields.Integer()
    opens = fields.List(fields.Nested(OpensOut))


class InvitedOut(Strict):
    invited = fields.Integer()
    notified = fields.Integer()


class RegistrationIn(InStore):
    customer_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))


class RegistrationOut(Strict):
    event_id = fields.Integer()
    customer_id = fields.Integer()
    state = fields.String(metadata={"enum": list(REGISTRATION_STATES)})
    registered_at = fields.DateTime()


def _notify_for():
    who = principal()
    ctx = HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                      registry=current_app.extensions["storecrm.plugins"], plugin="membership")
    notify = notifier(ctx)
    return lambda customer: notify


@endpoint(bp, "/events", "POST", summary="Plan a member event (会员品鉴会) held in this store (manager)", body=EventIn,
          response=EventOut, status=201, role=role_for("membership.events.manage"), errors=(400, 401, 403, 404))
def create_event(body):
    tier = services.get_tier(db.session, body.pop("lowest_tier"))
    body.pop("store", None)
    event = events.save_event(db.session, {**body, "lowest_tier_id": tier.id, "store_id": g.store.id})
    db.session.commit()
    return events.view(db.session, event), 201


@endpoint(bp, "/events/<int:event_id>", "GET", summary="A member event: places taken, when each tier may register",
          query=MembershipStoreQuery, response=EventOut, errors=(401, 403, 404))
def get_event(event_id, args):
    return events.view(db.session, events.event_or_404(db.session, event_id))


@endpoint(bp, "/events/<int:event_id>/invitations", "POST",
          summary="Invite the members of the invited tiers not invited yet, through campaigns' channels (manager)",
          body=InStore, response=InvitedOut, role=role_for("membership.events.manage"), errors=(400, 401, 403, 404))
def invite(event_id, body):
    result = events.invite(db.session, events.event_or_404(db.session, event_id), _notify_for())
    db.session.commit()
    return result


@endpoint(bp, "/events/<int:event_id>/registrations", "POST",
          summary="Register an invited member once their tier's registration is open; full is a 409",
          body=RegistrationIn, response=RegistrationOut, status=201, role=role_for("membership.events.register"),
          errors=(400, 401, 403, 404, 409, 422))
def register(event_id, body):
    row = events.register(db.session, event_id, _customer(body["customer_id"]))
    db.session.commit()
    return row, 201


@endpoint(bp, "/events/<int:event_id>/registrations/<int:customer_id>/cancel", "POST",
          summary="Cancel a member's registration: the place is free again", body=InStore, response=RegistrationOut,
          role=role_for("membership.events.register"), errors=(400, 401, 403, 404))
def cancel(event_id, customer_id, body):
    row = events.cancel(db.session, event_id, _customer(customer_id))
    db.session.commit()
    return row
