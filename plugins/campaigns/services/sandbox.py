"""Campaigns' part of a sandbox store's reset (hook `sandbox_reset`): what the store sent and
redeemed goes (campaigns with their recipients and messages, call tasks, the outbox), and the
coupons of its customers; its segments and coupon batches (settings) stay."""

from __future__ import annotations

from sqlalchemy import delete, or_

from core.services.sandbox import delete_rows
from plugins.campaigns.models import CallTask, Campaign, Coupon, Message, OutboxEntry, Redemption


def reset(session, store, customer_ids) -> dict[str, int]:
    return delete_rows(session, [
        ("campaigns_redemption", delete(Redemption).where(Redemption.store_id == store.id)),
        ("campaigns_call_task", delete(CallTask).where(CallTask.store_id == store.id)),
        ("campaigns_outbox", delete(OutboxEntry).where(or_(OutboxEntry.store_id == store.id,
                                                           OutboxEntry.customer_id.in_(customer_ids)))),
        ("campaigns_message", delete(Message).where(or_(Message.store_id == store.id,
                                                        Message.customer_id.in_(customer_ids)))),
        ("campaigns_campaign", delete(Campaign).where(Campaign.store_id == store.id)),
        ("campaigns_coupon", delete(Coupon).where(Coupon.customer_id.in_(customer_ids))),
    ])
