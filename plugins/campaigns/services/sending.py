"""Sending a campaign: the audience and its random hold-out control group are fixed before the
first send (`start`); then rq jobs, one per shard of recipients, claim messages in batches and
send them (`run_shard`), rate-limited, resumable and never twice to the same customer for the
same campaign step.

A batch is claimed by inserting its (campaign, step, customer) message rows — unique — and
committing, before any channel is called; a channel that only writes to the database (the
outbox) sends inside that same transaction, so a killed worker leaves each customer either
fully sent or untouched. A claim left behind by a killed worker on an external channel (SMTP)
is marked `uncertain` and never re-sent: at most once, and the report counts them."""

from __future__ import annotations

import logging
import random
import time
from decimal import Decimal

from sqlalchemy import exists, func, insert, select, update

from core.errors import Conflict, NotFound
from core.models import Customer, Store, utcnow
from core.webhooks import emit_event
from plugins.campaigns.models import Campaign, CouponBatch, Message, Recipient, Redemption, Segment
from plugins.campaigns.services import channels, coupons, messaging, segments

log = logging.getLogger(__name__)

SHARDS = 2  # jobs per campaign, so two workers share one campaign
BATCH = 200
MAX_ATTEMPTS = 3
STEP = 1


def create(session, store: Store, data: dict, settings: dict, actor: str = "system") -> Campaign:
    """A draft campaign; without its own cost per message it takes the store's for the channel."""
    # Another store's segment or batch is "not found", as a missing one: an id is never a capability.
    segment = session.get(Segment, data["segment_id"])
    if segment is None or segment.store_id != store.id:
        raise NotFound("unknown segment", fields={"segment_id": ["No such segment in this store."]})
    chan = channels.channel(data.get("channel") or "email")
    if data.get("coupon_batch_id") is not None:
        batch = session.get(CouponBatch, data["coupon_batch_id"])
        if batch is None or batch.store_id != store.id:
            raise NotFound("unknown coupon batch", fields={"coupon_batch_id": ["No such coupon batch in this store."]})
    for field in ("subject_zh", "body_zh", "subject_en", "body_en"):
        messaging.check_template(data.get(field) or "", field)
    campaign = Campaign(store_id=store.id, name=data["name"], kind=data.get("kind") or "theme", segment_id=segment.id,
                        channel=chan.name, subject_zh=data.get("subject_zh") or "", body_zh=data["body_zh"],
                        subject_en=data.get("subject_en") or "", body_en=data.get("body_en") or "",
                        coupon_batch_id=data.get("coupon_batch_id"), budget=data.get("budget"),
                        cost_per_message=data["cost_per_message"] if data.get("cost_per_message") is not None
                        else default_cost(chan, settings),
                        cost_per_redemption=data.get("cost_per_redemption") or Decimal("0"),
                        control_percent=Decimal(str(data.get("control_percent", "10"))),
                        attribution_days=data.get("attribution_days") or 30, partner_name=data.get("partner_name"),
                        scheduled_at=data.get("scheduled_at"), created_by=actor)
    session.add(campaign)
    session.flush()
    return campaign


def campaign_in_store(session, store: Store, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id) if campaign_id <= 2**31 - 1 else None
    if campaign is None or campaign.store_id != store.id:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def default_cost(chan, settings: dict) -> Decimal:
    return Decimal(str(settings.get(f"cost_{channels.consent_channel(chan)}", "0") if chan.name != "outbox" else "0"))


def start(session, campaign: Campaign, store: Store, settings: dict, ctx=None, now=None) -> Campaign:
    """Fix the audience: the segment's customers with standing consent and an address for the
    channel; a random `control_percent` of them (rounded) become the control group, never
    messaged. Done once; a second call finds the recipients fixed."""
    if campaign.status not in ("draft",):
        if campaign.status == "cancelled":
            raise Conflict("the campaign was cancelled")
        return campaign
    now = now or utcnow()
    chan = channels.channel(campaign.channel)
    segment = session.get(Segment, campaign.segment_id)
    audience = segments.audience_query(session, store, segment.filters or {}, ctx, now=now)
    size = session.scalar(select(func.count()).select_from(audience.subquery())) or 0
    eligible = segments.consented_with_address(audience, channels.consent_channel(chan)).order_by(Customer.id)
    ids = list(session.scalars(eligible))
    rng = random.Random(f"campaign-{campaign.id}-{campaign.created_at.isoformat()}")
    control = set(rng.sample(ids, round(len(ids) * campaign.control_percent / 100)))
    if ids:
        session.execute(insert(Recipient), [{"campaign_id": campaign.id, "customer_id": cid, "is_control": cid in control,
                                             "shard": cid % SHARDS} for cid in ids])
    campaign.audience_size = size
    campaign.excluded_no_consent = size - len(ids)
    campaign.started_at = now
    if campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.status, campaign.resume_at = "waiting", campaign.scheduled_at
    else:
        campaign.status = "sending"
    session.flush()
    return campaign


def spent(session, campaign: Campaign) -> Decimal:
    """Messages claimed (their cost, kept on the campaign row) plus coupons redeemed."""
    messages = campaign.messages_cost or Decimal("0")
    used = session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.campaign_id == campaign.id, Redemption.restored_at.is_(None))) or 0
    return Decimal(str(messages)) + used * (campaign.cost_per_redemption or Decimal("0"))


def _fields_from_plugins(ctx, customer) -> dict:
    """Tier and points for templates that use them, through `customer_export` of the plugins
    enabled in the store (never an import of them)."""
    found = {}
    if ctx is None:
        return found
    reg = ctx.registry
    for name in reg.implementers("customer_export", reg.enabled_in(ctx.store)):
        if name == "campaigns":
            continue
        for answer in reg.caller_for("customer_export", name)(customer=customer, ctx=ctx.for_plugin(name)):
            if isinstance(answer, dict):
                found.setdefault("tier", answer.get("tier_name") or answer.get("tier"))
                found.setdefault("points", answer.get("points_balance"))
    return {k: v for k, v in found.items() if v is not None}


def compose(campaign: Campaign, store: Store, customer, chan, message_id_hint=None, coupon=None, ctx=None) -> tuple[str, str]:
    lang = messaging.language_of(customer)
    subject_t = (campaign.subject_en if lang == "en" and campaign.body_en else campaign.subject_zh) or campaign.name
    body_t = campaign.body_en if lang == "en" and campaign.body_en else campaign.body_zh
    values = {"name": customer.name, "store": store.name}
    if "tier" in body_t or "points" in body_t:
        values.update(_fields_from_plugins(ctx, customer))
    if coupon is not None:
        values.update(coupon_code=coupon.code, coupon_label=coupons.label(coupon.batch, lang),
                      expires_on=coupon.expires_at.date().isoformat() if coupon.expires_at else "")
    token = messaging.unsubscribe_token(customer.id, channels.consent_channel(chan), message_id_hint)
    body = messaging.render(body_t, values) + messaging.FOOTER[lang].format(store=store.name,
                                                                            link=messaging.unsubscribe_link(token))
    return messaging.render(subject_t, values), body


def _mark_uncertain(session, campaign: Campaign, shard: int) -> None:
    """Claims a killed worker left on an external channel: maybe sent, so never sent again."""
    in_shard = select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id, Recipient.shard == shard)
    session.execute(update(Message).where(Message.campaign_id == campaign.id, Message.status == "claimed",
                                          Message.customer_id.in_(in_shard)).values(status="uncertain"))
    session.commit()


def _pending(session, campaign: Campaign, shard: int | None, limit: int, after: int = 0) -> list[int]:
    """The next recipients (by customer id, after `after`: a keyset, so each batch reads only
    its own rows) without a message for this step."""
    done = exists().where(Message.campaign_id == campaign.id, Message.step == STEP,
                          Message.customer_id == Recipient.customer_id)
    stmt = select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id, Recipient.is_control.is_(False),
                                               Recipient.customer_id > after, ~done)
    if shard is not None:
        stmt = stmt.where(Recipient.shard == shard)
    return list(session.scalars(stmt.order_by(Recipient.customer_id).limit(limit)))


def _failed(session, campaign: Campaign, shard: int, limit: int) -> list[Message]:
    """Failed sends of this shard with attempts left: tried again once the new ones are done."""
    in_shard = select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id, Recipient.shard == shard)
    return list(session.scalars(select(Message).where(
        Message.campaign_id == campaign.id, Message.status == "failed", Message.attempts < MAX_ATTEMPTS,
        Message.customer_id.in_(in_shard)).order_by(Message.id).limit(limit)))


def _finish_if_done(session, campaign: Campaign) -> None:
    if campaign.status == "sending" and not _pending(session, campaign, None, 1) and not session.scalar(
            select(Message.id).where(Message.campaign_id == campaign.id, (Message.status == "claimed") | (
                (Message.status == "failed") & (Message.attempts < MAX_ATTEMPTS))).limit(1)):
        campaign.status, campaign.finished_at = "sent", utcnow()
        emit_event(session, campaign.store_id, "campaigns.campaign_sent", {"campaign_id": campaign.id})


def run_shard(session, campaign_id: int, shard: int, settings: dict, store: Store, ctx=None, *, batch: int = BATCH,
              now_fn=utcnow, sleep=time.sleep) -> str:
    """Send this shard's messages until done, quiet hours, or the budget is spent. Returns why it
    stopped: "done", "quiet", "budget", or the campaign's state when it is not sending."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return "gone"
    _mark_uncertain(session, campaign, shard)
    chan = channels.channel(campaign.channel)
    consent = channels.consent_channel(chan)
    per_second = settings["send_rate_per_minute"] / 60 / SHARDS
    batch = max(1, min(batch, int(per_second * 2)))  # about two seconds of sending per claim
    began, sent_here, after = time.monotonic(), 0, 0
    while True:
        locked = select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
        if campaign.budget is not None:
            locked = locked.with_for_update()  # claims that spend the budget go one at a time
        campaign = session.scalars(locked).one()
        if campaign.status != "sending":
            session.commit()
            return campaign.status
        now = now_fn()
        if messaging.in_quiet_hours(now, store.timezone, settings):
            campaign.status, campaign.resume_at = "waiting", messaging.quiet_hours_end(now, store.timezone, settings)
            session.commit()
            return "quiet"
        ids = _pending(session, campaign, shard, batch, after)
        retry = [] if ids else _failed(session, campaign, shard, batch)
        if not ids and not retry:
            _finish_if_done(session, campaign)
            session.commit()
            return "done"
        if ids:
            after = ids[-1]
        claimed = (_claim(session, campaign, store, chan, consent, ids, settings, now, ctx) if ids else []) + retry
        for message in retry:
            message.status = "claimed"
        stopped = campaign.status == "budget_spent"
        if chan.transactional:
            session.flush()  # the messages' ids, which the channel records
            for message in claimed:
                _deliver(session, chan, message)
            session.commit()
        else:
            session.commit()  # the claim is durable before any provider is called
            for message in claimed:
                _deliver(session, chan, message)
                session.commit()
        sent_here += len(claimed)
        if stopped:
            return "budget"
        ahead = sent_here / per_second - (time.monotonic() - began)
        if ahead > 0:
            sleep(ahead)


def _claim(session, campaign, store, chan, consent, ids, settings, now, ctx) -> list[Message]:
    """Message rows for this batch: `skipped` for those whose consent was withdrawn since or who
    are over the cap, `claimed` for the rest that the budget covers."""
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids),
                                                                        Customer.erased_at.is_(None)))}
    consented = messaging.consent_stands(session, ids, consent)
    full = messaging.over_cap(session, ids, now, store.timezone, settings)
    skipped, sendable = [], []
    for cid in ids:
        customer = customers.get(cid)
        address = channels.address_of(chan, customer) if customer is not None else None
        if customer is None or cid not in consented or not address:
            skipped.append((cid, "no_consent"))
        elif cid in full:
            skipped.append((cid, "over_cap"))
        else:
            sendable.append((customer, address))
    cost = campaign.cost_per_message or Decimal("0")
    if campaign.budget is not None and cost > 0:
        affordable = int((campaign.budget - spent(session, campaign)) // cost)
        if affordable < len(sendable):
            sendable = sendable[:max(affordable, 0)]
            campaign.status, campaign.finished_at = "budget_spent", now
    for cid, why in skipped:
        session.add(Message(campaign_id=campaign.id, step=STEP, customer_id=cid, store_id=store.id, channel=chan.name,
                            purpose="marketing", status="skipped", error=why, claimed_at=now))
    issued = {}
    if campaign.coupon_batch_id and sendable:
        batch = session.get(CouponBatch, campaign.coupon_batch_id)
        issued = {c.customer_id: c for c in coupons.issue_codes(session, batch, [c.id for c, _a in sendable], campaign.id)}
    messages = []
    for customer, address in sendable:
        subject, body = compose(campaign, store, customer, chan, coupon=issued.get(customer.id), ctx=ctx)
        messages.append(Message(campaign_id=campaign.id, step=STEP, customer_id=customer.id, store_id=store.id,
                                channel=chan.name, purpose="marketing", topic="campaign", address=address,
                                subject=subject, body=body, status="claimed", cost=cost, claimed_at=now))
    session.add_all(messages)
    campaign.messages_cost = (campaign.messages_cost or Decimal("0")) + cost * len(messages)
    session.flush()
    return messages


def _deliver(session, chan, message: Message, store_name: str | None = None) -> None:
    message.attempts = (message.attempts or 0) + 1
    try:
        provider_id = chan.send(channels.OutgoingMessage(
            to=message.address, subject=message.subject, body=message.body, customer_id=message.customer_id,
            message_id=message.id, store_id=message.store_id, topic=message.topic, session=session))
    except Exception as exc:  # noqa: BLE001 - a provider's failure is recorded and retried, never fatal
        log.warning("sending message %s through %s failed: %s", message.id, chan.name, exc)
        message.status, message.error = "failed", str(exc)[:2000]
        return
    message.status, message.provider_id, message.sent_at, message.error = "sent", str(provider_id)[:200], utcnow(), None


def resume_due(session, now=None) -> list[int]:
    """Campaigns whose quiet hours or schedule are over: back to sending. Returns their ids."""
    now = now or utcnow()
    due = list(session.scalars(select(Campaign).where(Campaign.status == "waiting", Campaign.resume_at <= now)))
    for campaign in due:
        campaign.status, campaign.resume_at = "sending", None
    session.flush()
    return [c.id for c in due]


def sending_shards(session) -> list[tuple[int, int]]:
    ids = session.scalars(select(Campaign.id).where(Campaign.status == "sending"))
    return [(cid, shard) for cid in ids for shard in range(SHARDS)]


