"""A campaign's measured effect: targeted customers (everyone drawn for sending, whether or not
a message reached them: intention to treat) against the hold-out control group, over the
attribution window that starts when sending started.

- revenue per customer (net of refunds) and purchases per customer in the campaign's store,
  with the difference and its 95% confidence interval (Welch's standard error, normal
  approximation: fine from about 30 customers per group; fewer and the report says so);
- the same window before the start (before/after, and the difference of differences);
- redemption rate: coupons of the campaign used / messages sent;
- ROI on gross profit: (incremental gross profit − cost) / cost, where incremental gross
  profit = (gross profit per target − per control) × targets, gross profit = line amount after
  adjustments − unit cost × quantity (lines without a cost count at their amount).
All aggregates run in SQL, grouped by target/control."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from core.models import Sale, SaleLine, Visit, utcnow
from plugins.campaigns.models import Campaign, Coupon, Message, Recipient, Redemption
from plugins.campaigns.services.sending import spent

Z95 = 1.959964
MIN_GROUP = 30


def _per_customer(session, campaign: Campaign, start, end):
    """(is_control, n, mean revenue, var revenue, mean purchases, var purchases, mean gp, mean visits)."""
    rev = func.coalesce(func.sum(Sale.total - Sale.refunded_total), 0)
    sales = (select(Sale.customer_id.label("cid"), rev.label("revenue"), func.count(Sale.id).label("purchases"))
             .where(Sale.store_id == campaign.store_id, Sale.status != "void", Sale.occurred_at >= start,
                    Sale.occurred_at < end, Sale.customer_id.in_(
                        select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id)))
             .group_by(Sale.customer_id).subquery())
    line_gp = SaleLine.amount + SaleLine.allocated_adjustment - func.coalesce(SaleLine.unit_cost, 0) * SaleLine.quantity
    gp = (select(Sale.customer_id.label("cid"), func.sum(line_gp).label("gp"))
          .join(SaleLine, SaleLine.sale_id == Sale.id)
          .where(Sale.store_id == campaign.store_id, Sale.status != "void", Sale.occurred_at >= start, Sale.occurred_at < end,
                 Sale.customer_id.in_(select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id)))
          .group_by(Sale.customer_id).subquery())
    visits = (select(Visit.customer_id.label("cid"), func.count(Visit.id).label("visits"))
              .where(Visit.store_id == campaign.store_id, Visit.occurred_at >= start, Visit.occurred_at < end,
                     Visit.customer_id.in_(select(Recipient.customer_id).where(Recipient.campaign_id == campaign.id)))
              .group_by(Visit.customer_id).subquery())
    r = func.coalesce(sales.c.revenue, 0)
    p = func.coalesce(sales.c.purchases, 0)
    stmt = (select(Recipient.is_control, func.count(), func.sum(r), func.sum(r * r), func.sum(p), func.sum(p * p),
                   func.sum(func.coalesce(gp.c.gp, 0)), func.sum(func.coalesce(visits.c.visits, 0)))
            .select_from(Recipient)
            .outerjoin(sales, sales.c.cid == Recipient.customer_id)
            .outerjoin(gp, gp.c.cid == Recipient.customer_id)
            .outerjoin(visits, visits.c.cid == Recipient.customer_id)
            .where(Recipient.campaign_id == campaign.id).group_by(Recipient.is_control))
    out = {}
    for is_control, n, s_r, ss_r, s_p, ss_p, s_gp, s_v in session.execute(stmt):
        out["control" if is_control else "target"] = _moments(int(n), s_r, ss_r, s_p, ss_p, s_gp, s_v)
    empty = _moments(0, 0, 0, 0, 0, 0, 0)
    return out.get("target", empty), out.get("control", empty)


def _moments(n, s_r, ss_r, s_p, ss_p, s_gp, s_v) -> dict:
    s_r, ss_r, s_p, ss_p, s_gp, s_v = (float(x or 0) for x in (s_r, ss_r, s_p, ss_p, s_gp, s_v))

    def mean_var(s, ss):
        if n == 0:
            return 0.0, 0.0
        mean = s / n
        var = (ss - n * mean * mean) / (n - 1) if n > 1 else 0.0
        return mean, max(var, 0.0)

    rm, rv = mean_var(s_r, ss_r)
    pm, pv = mean_var(s_p, ss_p)
    return {"customers": n, "revenue": round(s_r, 2), "revenue_per_customer": round(rm, 2), "_rm": rm, "_rv": rv,
            "purchases_per_customer": round(pm, 4), "_pm": pm, "_pv": pv, "gross_profit": round(s_gp, 2),
            "gross_profit_per_customer": round(s_gp / n, 2) if n else 0.0, "_gpm": s_gp / n if n else 0.0,
            "visits_per_customer": round(s_v / n, 4) if n else 0.0}


def _difference(target: dict, control: dict, mean_key: str, var_key: str) -> dict:
    nt, nc = target["customers"], control["customers"]
    diff = target[mean_key] - control[mean_key]
    if nt < 2 or nc < 2:
        return {"difference": round(diff, 4), "ci95": None, "reliable": False}
    se = math.sqrt(target[var_key] / nt + control[var_key] / nc)
    return {"difference": round(diff, 4), "ci95": [round(diff - Z95 * se, 4), round(diff + Z95 * se, 4)],
            "reliable": nt >= MIN_GROUP and nc >= MIN_GROUP}


def _public(group: dict) -> dict:
    return {k: v for k, v in group.items() if not k.startswith("_")}


def report(session, campaign: Campaign, now=None) -> dict:
    now = now or utcnow()
    states = dict(session.execute(select(Message.status, func.count()).where(Message.campaign_id == campaign.id)
                                  .group_by(Message.status)).all())
    skipped = dict(session.execute(select(Message.error, func.count()).where(
        Message.campaign_id == campaign.id, Message.status == "skipped").group_by(Message.error)).all())
    cost = spent(session, campaign)
    out = {
        "campaign": {"id": campaign.id, "name": campaign.name, "status": campaign.status, "channel": campaign.channel,
                     "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
                     "attribution_days": campaign.attribution_days},
        "sends": {"sent": states.get("sent", 0), "failed": states.get("failed", 0),
                  "uncertain": states.get("uncertain", 0), "waiting": campaign.status == "waiting",
                  "skipped_no_consent": skipped.get("no_consent", 0), "skipped_over_cap": skipped.get("over_cap", 0),
                  "excluded_no_consent": campaign.excluded_no_consent, "audience": campaign.audience_size},
        "budget": {"budget": str(campaign.budget) if campaign.budget is not None else None, "spent": str(cost.quantize(Decimal("0.01"))),
                   "stopped_by_budget": campaign.status == "budget_spent",
                   "not_reached_for_budget": _not_reached(session, campaign) if campaign.status == "budget_spent" else 0},
    }
    if campaign.started_at is None:
        return {**out, "groups": {}, "effect": {}, "before_after": {}, "redemption": {}, "roi": {}}
    start = campaign.started_at
    end = min(start + timedelta(days=campaign.attribution_days), max(now, start))
    length = end - start
    target, control = _per_customer(session, campaign, start, end)
    before_t, before_c = _per_customer(session, campaign, start - length, start) if length else (target, control)
    out["groups"] = {"target": _public(target), "control": _public(control),
                     "window": {"start": start.isoformat(), "end": end.isoformat(),
                                "complete": now >= start + timedelta(days=campaign.attribution_days)}}
    out["effect"] = {"revenue_per_customer": _difference(target, control, "_rm", "_rv"),
                     "purchases_per_customer": _difference(target, control, "_pm", "_pv"),
                     "visits_per_customer": round(target["visits_per_customer"] - control["visits_per_customer"], 4)}
    out["before_after"] = {
        "target": {"before": before_t["revenue_per_customer"], "after": target["revenue_per_customer"]},
        "control": {"before": before_c["revenue_per_customer"], "after": control["revenue_per_customer"]},
        "difference_of_differences": round((target["revenue_per_customer"] - before_t["revenue_per_customer"])
                                           - (control["revenue_per_customer"] - before_c["revenue_per_customer"]), 2)}
    used = session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.campaign_id == campaign.id, Redemption.restored_at.is_(None))) or 0
    discount = session.scalar(select(func.coalesce(func.sum(Redemption.discount), 0)).where(
        Redemption.campaign_id == campaign.id, Redemption.restored_at.is_(None)))
    issued = session.scalar(select(func.count()).select_from(Coupon).where(Coupon.campaign_id == campaign.id)) or 0
    sent = states.get("sent", 0)
    out["redemption"] = {"issued": issued, "redeemed": used, "rate": round(used / sent, 4) if sent else 0.0,
                         "discount_given": str(Decimal(str(discount)).quantize(Decimal("0.01")))}
    incremental = (target["_gpm"] - control["_gpm"]) * target["customers"]
    cost_f = float(cost)
    out["roi"] = {"incremental_gross_profit": round(incremental, 2), "cost": round(cost_f, 2),
                  "roi": round((incremental - cost_f) / cost_f, 4) if cost_f > 0 else None}
    return out


def _not_reached(session, campaign: Campaign) -> int:
    done = select(Message.customer_id).where(Message.campaign_id == campaign.id)
    return session.scalar(select(func.count()).select_from(Recipient).where(
        Recipient.campaign_id == campaign.id, Recipient.is_control.is_(False), Recipient.customer_id.notin_(done))) or 0


