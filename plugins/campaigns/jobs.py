"""Campaigns' background work, run inside an app context (rq worker, or in-process without
Redis): sending a campaign's shards, resuming after quiet hours or at the scheduled time,
delivering queued one-off messages, and the care automations."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.jobs import jobs
from core.models import Store
from core.plugins import HookContext
from plugins.campaigns.models import Campaign
from plugins.campaigns.services import automations, notifications, sending


def _ctx(store) -> HookContext:
    return HookContext(session=db.session, store=store, actor="campaigns", registry=current_app.extensions["storecrm.plugins"],
                       plugin="campaigns")


def send_shard(campaign_id: int, shard: int) -> str:
    """One shard of a campaign's recipients; resumable (a re-run skips what was claimed)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return "gone"
    store = db.session.get(Store, campaign.store_id)
    ctx = _ctx(store)
    return sending.run_shard(db.session, campaign_id, shard, ctx.settings(), store, ctx)


def enqueue_campaign(campaign_id: int) -> None:
    """Queue every shard (after the caller committed). Job ids make a repeat enqueue a no-op
    while the shard's job is still queued or running."""
    for shard in range(sending.SHARDS):
        jobs().enqueue(send_shard, campaign_id, shard, job_id=f"campaigns-send-{campaign_id}-{shard}")


def resume_campaigns() -> int:
    """Every 5 minutes: campaigns whose quiet hours or scheduled time are over go on; campaigns
    still sending (a worker died and its retries ran out) are queued again."""
    ids = sending.resume_due(db.session)
    db.session.commit()
    stalled = db.session.scalars(select(Campaign.id).where(Campaign.status == "sending")).all()
    for campaign_id in sorted(set(ids) | set(stalled)):
        enqueue_campaign(campaign_id)
    return len(ids)


def deliver_queued() -> int:
    return notifications.deliver_queued(db.session)


def run_store_automations(store_id: int) -> dict:
    """Daily in each store with campaigns on, at its `care_time` on its own clock (core/scheduling.py):
    its care rules for the store's day of the slot, whenever the run happens (a run after an
    outage does the day it was due; each action is keyed, so a second run adds nothing)."""
    from core.scheduling import current_slot

    store = db.session.get(Store, store_id)
    if store is None or not current_app.extensions["storecrm.plugins"].is_enabled(store, "campaigns"):
        return {}  # deleted, or campaigns switched off, since the slot was claimed
    slot = current_slot()
    ctx = _ctx(store)
    day = automations.local_today(store, slot.at) if slot else None
    done = automations.run_for_store(db.session, store, ctx.settings(), ctx, day=day)
    db.session.commit()
    return done


def run_automations() -> dict:
    """By hand (`storecrm campaigns automations`): each store with campaigns on runs today's
    care rules now (each action once a day by key, so after the scheduled run it adds nothing)."""
    reg = current_app.extensions["storecrm.plugins"]
    done = {}
    for store in db.session.scalars(select(Store).order_by(Store.id)).all():
        if not reg.is_enabled(store, "campaigns"):
            continue
        ctx = _ctx(store)
        done[store.code] = automations.run_for_store(db.session, store, ctx.settings(), ctx)
        db.session.commit()
    return done
