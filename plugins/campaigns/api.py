"""/api/v1/campaigns/…: segments with their live count, coupons, campaigns, sending, reports,
call tasks, SMS/WeChat replies; and the public unsubscribe link.

Mounted with `core.api.plugin_blueprint` (404 in a store without campaigns), except
`GET /unsubscribe/{token}`: public, answering in JSON for a client that asks for it and with a
bilingual page for a person following the link from a message."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request
from sqlalchemy import select

from core.access import customer_or_404, visible_customers
from core.api import plugin_blueprint
from core.api.http import API_PREFIX, endpoint, principal
from core.errors import NotFound
from core.extensions import db
from core.models import Customer
from core.plugins import HookContext
from plugins.campaigns.models import CallTask, Segment
from plugins.campaigns.schemas import (
    CallOutcomeIn, CallTaskOut, CampaignIn, CampaignOut, CouponBatchIn, CouponBatchOut, ReplyIn, ReplyOut, ReportOut,
    SegmentIn, SegmentOut, StoreQuery, UnsubscribeQuery,
)
from plugins.campaigns.services import automations, coupons, effect, messaging, segments, sending

bp = plugin_blueprint("campaigns", __name__)
public = Blueprint("api_campaigns_public", __name__, url_prefix=f"{API_PREFIX}/campaigns/unsubscribe")
public.storecrm_tag = "campaigns"


def _ctx() -> HookContext:
    who = principal()
    return HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                       registry=current_app.extensions["storecrm.plugins"], plugin="campaigns")


def _segment(segment_id: int) -> Segment:
    row = db.session.get(Segment, segment_id)
    if row is None or row.store_id != g.store.id:
        raise NotFound(f"no segment {segment_id}")
    return row


# --- segments ---------------------------------------------------------------------------------------

@endpoint(bp, "/segments", "POST", summary="Save an audience from filters; answers with its live count",
          body=SegmentIn, response=SegmentOut, status=201, role="manager", errors=(400, 401, 403, 404))
def create_segment(body):
    ctx = _ctx()
    count = segments.count(db.session, g.store, body["filters"], ctx)
    row = Segment(store_id=g.store.id, name=body["name"], filters=body["filters"], created_by=ctx.actor)
    db.session.add(row)
    db.session.commit()
    return {"id": row.id, "name": row.name, "filters": row.filters, "count": count}, 201


@endpoint(bp, "/segments/count", "POST", summary="The live count of filters, without saving",
          body=SegmentIn, response=SegmentOut,
          role="manager", errors=(400, 401, 403, 404))
def count_segment(body):
    return {"id": None, "name": body["name"], "filters": body["filters"],
            "count": segments.count(db.session, g.store, body["filters"], _ctx())}


@endpoint(bp, "/segments/<int:segment_id>", "GET", summary="A segment with its count now", query=StoreQuery,
          response=SegmentOut, role="manager", errors=(401, 403, 404))
def get_segment(segment_id, args):
    row = _segment(segment_id)
    return {"id": row.id, "name": row.name, "filters": row.filters,
            "count": segments.count(db.session, g.store, row.filters or {}, _ctx())}


# --- coupons ----------------------------------------------------------------------------------------

@endpoint(bp, "/coupons", "POST", summary="A coupon batch (amount, percent or gift), optionally with codes to print",
          body=CouponBatchIn, response=CouponBatchOut, status=201, role="manager", errors=(400, 401, 403, 404))
def create_coupons(body):
    batch = coupons.create_batch(db.session, g.store, body)
    codes = [c.code for c in batch_codes(batch.id)]
    db.session.commit()
    return {**{k: getattr(batch, k) for k in ("id", "name", "kind", "value", "gift", "min_spend", "valid_from",
                                               "valid_until", "per_customer_limit")}, "codes": codes}, 201


def batch_codes(batch_id: int):
    from plugins.campaigns.models import Coupon

    return db.session.scalars(select(Coupon).where(Coupon.batch_id == batch_id).order_by(Coupon.id)).all()


# --- campaigns --------------------------------------------------------------------------------------

@endpoint(bp, "/campaigns", "POST", summary="A campaign: audience, channel, template, coupon, budget, control share",
          body=CampaignIn, response=CampaignOut, status=201, role="manager", errors=(400, 401, 403, 404))
def create_campaign(body):
    campaign = sending.create(db.session, g.store, body, _ctx().settings(), actor=principal().name)
    db.session.commit()
    return campaign, 201


@endpoint(bp, "/campaigns/<int:campaign_id>", "GET", summary="A campaign and its state", query=StoreQuery,
          response=CampaignOut, role="manager", errors=(401, 403, 404))
def get_campaign(campaign_id, args):
    return sending.campaign_in_store(db.session, g.store, campaign_id)


@endpoint(bp, "/campaigns/<int:campaign_id>/send", "POST",
          summary="Fix the audience and control group, then send through background jobs",
          body=StoreQuery, response=CampaignOut, status=202, role="manager", errors=(400, 401, 403, 404, 409))
def send_campaign(campaign_id, body):
    from plugins.campaigns.jobs import enqueue_campaign

    ctx = _ctx()
    campaign = sending.campaign_in_store(db.session, g.store, campaign_id)
    sending.start(db.session, campaign, g.store, ctx.settings(), ctx)
    go = campaign.status == "sending"
    db.session.commit()
    if go:
        enqueue_campaign(campaign_id)  # without Redis this sends now, in this process
    return sending.campaign_in_store(db.session, g.store, campaign_id), 202


@endpoint(bp, "/campaigns/<int:campaign_id>/report", "GET",
          summary="Sends, budget, target vs control revenue with a confidence interval, redemption, ROI",
          query=StoreQuery, response=ReportOut, role="manager", errors=(401, 403, 404))
def campaign_report(campaign_id, args):
    return effect.report(db.session, sending.campaign_in_store(db.session, g.store, campaign_id))


# --- call tasks and replies -------------------------------------------------------------------------

@endpoint(bp, "/call-tasks/<int:task_id>/outcome", "POST", summary="Record how a follow-up call went",
          body=CallOutcomeIn, response=CallTaskOut, errors=(400, 401, 403, 404))
def call_outcome(task_id, body):
    task = db.session.get(CallTask, task_id)
    if task is None or task.store_id != g.store.id:
        raise NotFound(f"no call task {task_id}")
    customer_or_404(task.customer_id)
    automations.record_outcome(db.session, task, body["outcome"], body.get("note"))
    db.session.commit()
    return task


@endpoint(bp, "/replies", "POST", summary="A customer's SMS/WeChat/email reply (from a provider); 退订 withdraws consent",
          body=ReplyIn, response=ReplyOut, errors=(400, 401, 403, 404))
def reply(body):
    from core.crypto import cipher

    if not messaging.is_unsubscribe_reply(body["text"]):
        return {"withdrawn": False, "customer_id": None}
    sender = body["sender"].strip()
    if body["channel"] == "sms":
        from core.services.phones import try_normalise_phone

        phone = try_normalise_phone(sender)
        if phone is None:
            return {"withdrawn": False, "customer_id": None}
        column, value = Customer.phone_hash, cipher().lookup_hash(phone)
    elif body["channel"] == "email":
        column, value = Customer.email_hash, cipher().lookup_hash(sender.lower())
    else:
        column, value = Customer.wechat_id, sender
    customer = db.session.scalars(select(Customer).where(column == value, visible_customers([g.store.id]))).first()
    if customer is None:
        return {"withdrawn": False, "customer_id": None}
    done = messaging.withdraw(db.session, customer, body["channel"], source=f"reply:{body['channel']}",
                              proof=body["text"].strip()[:200], store=g.store)
    db.session.commit()
    return {"withdrawn": done, "customer_id": customer.id}


# --- public -----------------------------------------------------------------------------------------

@endpoint(public, "/<token>", "GET", summary="Unsubscribe from a message's link (public; a bilingual page or JSON)",
          query=UnsubscribeQuery, role=None, errors=(400, 404))
def unsubscribe(token, args):
    data = messaging.read_token(token)
    customer = db.session.get(Customer, int(data["c"])) if data else None
    if customer is None or customer.erased_at is not None:
        raise NotFound("this unsubscribe link is not valid")
    done = messaging.withdraw(db.session, customer, data["ch"], source="unsubscribe_link",
                              proof=f"message {data.get('m')}" if data.get("m") else "link")
    db.session.commit()
    answer = {"channel": data["ch"], "withdrawn": done,
              "message": "You will receive no more marketing messages on this channel. 您已退订，不会再收到此渠道的营销消息。"}
    wanted = args.get("format") or ("html" if request.accept_mimetypes.best == "text/html" else "json")
    if wanted == "html":
        return render_template("campaigns/unsubscribed.html", answer=answer)
    return answer
