"""/api/v1/membership/…gift…: a tier's yearly gift (owner), a member's gifts, and issuing now."""

from __future__ import annotations

from marshmallow import fields, validate

from core.api.http import endpoint
from core.extensions import db
from core.roles import role_for
from plugins.membership.api import _customer, _row, bp
from plugins.membership.gifts import services as gifts
from plugins.membership.gifts.models import GIFT_STATES
from plugins.membership.models import Tier
from plugins.membership.schemas import InStore, MembershipStoreQuery, Strict

Money = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731


class GiftPlanIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    value = Money(required=True, validate=validate.Range(min=0.01, max=100_000))
    active = fields.Boolean(load_default=True)


class GiftPlanOut(Strict):
    tier_id = fields.Integer()
    name = fields.String()
    value = Money()
    active = fields.Boolean()


class GiftOut(Strict):
    id = fields.Integer()
    year = fields.Integer()
    name = fields.String()
    value = Money()
    state = fields.String(metadata={"enum": list(GIFT_STATES)})
    expires_on = fields.Date()
    sale_id = fields.Integer(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)


class GiftsIssuedOut(Strict):
    issued = fields.Integer()


@endpoint(bp, "/tiers/<int:tier_id>/gift", "PUT", summary="Set a tier's yearly exclusive gift (owner)", body=GiftPlanIn,
          response=GiftPlanOut, role=role_for("membership.gifts.plan"), errors=(400, 401, 403, 404))
def put_tier_gift(tier_id, body):
    body.pop("store", None)
    plan = gifts.save_plan(db.session, _row(Tier, tier_id, "tier"), body)
    db.session.commit()
    return plan


@endpoint(bp, "/gifts/issue", "POST", summary="Issue this year's missing gifts now (the daily job does it too)",
          body=InStore, response=GiftsIssuedOut, role=role_for("membership.gifts.plan"), errors=(400, 401, 403))
def issue_gifts(body):
    issued = gifts.issue(db.session)
    db.session.commit()
    return {"issued": issued}


@endpoint(bp, "/members/<int:customer_id>/gifts", "GET", summary="A member's yearly gifts, this year first",
          query=MembershipStoreQuery, response=GiftOut, many=True, errors=(401, 403, 404))
def list_gifts(customer_id, args):
    _customer(customer_id)
    return [gifts.view(g) for g in gifts.gifts_of(db.session, customer_id)]
