"""/api/v1/membership/rewards…: the catalogue, a member's redemptions, and returns. Routes on
membership's blueprint (404 where membership is off)."""

from __future__ import annotations

from flask import current_app, g

from core.access import record_or_404
from core.api.http import endpoint, principal
from core.errors import NotFound
from core.extensions import db
from core.plugins import HookContext
from core.roles import role_for
from plugins.membership.api import _customer, bp
from plugins.membership.rewards import services as rewards
from plugins.membership.rewards.models import RewardRedemption
from plugins.membership.rewards.schemas import (
    RewardIn, RewardListQuery, RewardOut, RewardPatch, RewardRedeemIn, RewardRedemptionOut, RewardReturnIn,
)
from plugins.membership.schemas import MembershipStoreQuery


def _stock():
    who = principal()
    return rewards.stock_keeper(HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                                            registry=current_app.extensions["storecrm.plugins"], plugin="membership"))


def _who():
    who = principal()
    return {"store": g.store, "user": who.user, "actor": who.name}


@endpoint(bp, "/rewards", "GET", summary="The rewards catalogue (积分兑换), cheapest first", query=RewardListQuery,
          response=RewardOut, many=True, errors=(401, 403))
def list_rewards(args):
    return rewards.catalogue(db.session, active_only=not args["all"])


@endpoint(bp, "/rewards", "POST", summary="Add a reward to the catalogue (owner)", body=RewardIn, response=RewardOut,
          status=201, role=role_for("membership.rewards.catalogue"), errors=(400, 401, 403))
def create_reward(body):
    body.pop("store", None)
    reward = rewards.save_reward(db.session, body)
    db.session.commit()
    return reward, 201


@endpoint(bp, "/rewards/<int:reward_id>", "PATCH", summary="Change a reward or switch it off (owner)", body=RewardPatch,
          response=RewardOut, role=role_for("membership.rewards.catalogue"), errors=(400, 401, 403, 404))
def patch_reward(reward_id, body):
    body.pop("store", None)
    reward = rewards.save_reward(db.session, body, rewards.reward_or_404(db.session, reward_id))
    db.session.commit()
    return reward


@endpoint(bp, "/members/<int:customer_id>/reward-redemptions", "POST",
          summary="Exchange a member's points for a reward; short balance or stock is a 422", body=RewardRedeemIn,
          response=RewardRedemptionOut, status=201, role=role_for("membership.rewards.redeem"),
          errors=(400, 401, 403, 404, 422))
def redeem_reward(customer_id, body):
    customer = _customer(customer_id)
    reward = rewards.reward_or_404(db.session, body["reward_id"])
    row = rewards.redeem(db.session, customer, reward, body["quantity"], stock=_stock(), **_who())
    db.session.commit()
    return rewards.view(row), 201


@endpoint(bp, "/members/<int:customer_id>/reward-redemptions", "GET", summary="A member's redemptions, newest first",
          query=MembershipStoreQuery, response=RewardRedemptionOut, many=True, errors=(401, 403, 404))
def list_redemptions(customer_id, args):
    _customer(customer_id)
    return [rewards.view(r) for r in rewards.redemptions_of(db.session, customer_id, limit=100)]


@endpoint(bp, "/reward-redemptions/<int:redemption_id>/return", "POST",
          summary="Take a reward back: points return to their lots (expired ones are gone), goods to stock",
          body=RewardReturnIn, response=RewardRedemptionOut, role=role_for("membership.rewards.return"),
          errors=(400, 401, 403, 404, 409))
def return_reward(redemption_id, body):
    if redemption_id >= 2**31:
        raise NotFound(f"no redemption {redemption_id}")
    record_or_404(RewardRedemption, redemption_id)
    row = rewards.redemption_or_404(db.session, redemption_id, lock=True)
    row = rewards.give_back(db.session, row, body["reason"], stock=_stock(), **_who())
    db.session.commit()
    return rewards.view(row)
