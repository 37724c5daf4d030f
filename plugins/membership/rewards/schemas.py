"""marshmallow schemas of the rewards catalogue's API."""

from __future__ import annotations

from marshmallow import fields, validate

from plugins.membership.rewards.models import REDEMPTION_STATES, REWARD_KINDS
from plugins.membership.rewards.services import MAX_QUANTITY
from plugins.membership.schemas import InStore, Strict


class RewardIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(load_default="goods", validate=validate.OneOf(REWARD_KINDS))
    points = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    sku = fields.String(allow_none=True, validate=validate.Length(max=64),
                        metadata={"description": "a catalogue product: inventory keeps its stock where it is on"})
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    active = fields.Boolean(load_default=True)


class RewardPatch(RewardIn):
    name = fields.String(validate=validate.Length(min=1, max=100))
    kind = fields.String(validate=validate.OneOf(REWARD_KINDS))
    points = fields.Integer(validate=validate.Range(min=1, max=10_000_000))
    active = fields.Boolean()


class RewardOut(Strict):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(REWARD_KINDS)})
    points = fields.Integer()
    sku = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    active = fields.Boolean()


class RewardRedeemIn(InStore):
    reward_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))


class RewardReturnIn(InStore):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class RewardBrief(Strict):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class RewardRedemptionOut(Strict):
    id = fields.Integer()
    customer_id = fields.Integer()
    reward = fields.Nested(RewardBrief)
    quantity = fields.Integer()
    points = fields.Integer()
    state = fields.String(metadata={"enum": list(REDEMPTION_STATES)})
    stock_kept = fields.Boolean(metadata={"description": "inventory took the goods out of this store's stock"})
    points_returned = fields.Integer()
    points_expired = fields.Integer(metadata={"description": "points of lots past their date at the return: gone"})
    created_at = fields.DateTime()
    returned_at = fields.DateTime(allow_none=True)


class RewardListQuery(Strict):
    store = fields.String()
    all = fields.Boolean(load_default=False, metadata={"description": "include rewards switched off"})
