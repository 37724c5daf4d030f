"""Membership's part of a sandbox store's reset (hook `sandbox_reset`): the accounts of the
store's own customers go with everything they earned, spent and were given; the program,
tiers, rewards and gift plans (settings) stay. A customer another store sees is not the
sandbox's and keeps their account."""

from __future__ import annotations

from sqlalchemy import delete

from core.services.sandbox import delete_rows
from plugins.membership.events.models import EventInvitation, EventRegistration
from plugins.membership.gifts.models import Gift
from plugins.membership.models import Member, PointsEntry, Spend
from plugins.membership.rewards.models import RewardRedemption


def reset(session, store, customer_ids) -> dict[str, int]:
    return delete_rows(session, [
        (model.__tablename__, delete(model).where(model.customer_id.in_(customer_ids)))
        for model in (PointsEntry, Spend, Gift, RewardRedemption, EventInvitation, EventRegistration, Member)
    ])
