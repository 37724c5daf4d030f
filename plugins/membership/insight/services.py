"""Member insight (会员数据分析, seed 000): who to recall, who is active, what the points owe.

Set-based: each figure is one aggregate statement over the members, the sales or the ledger,
whatever the number of members. "A purchase" is a completed sale in any store of the chain
(membership is chain-wide)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select

from core.models import Activity, Customer, Sale, utcnow
from plugins.membership import services
from plugins.membership.models import Member, PointsEntry, Tier

DEFAULT_RECALL_DAYS = 90  # no purchase for 90 days: a member to recall
DEFAULT_ACTIVE_DAYS = 90  # a purchase within 90 days: an active member
MONTHS = 12


def _last_purchase():
    return (select(Sale.customer_id, func.max(Sale.occurred_at).label("last_at"))
            .where(Sale.customer_id.isnot(None), Sale.status == "completed")
            .group_by(Sale.customer_id).subquery("last_purchase"))


def recall_ids(days: int, now: datetime | None = None):
    """A subquery of the members with no purchase for `days` days (none at all counts too)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    last = _last_purchase()
    return (select(Member.customer_id).outerjoin(last, last.c.customer_id == Member.customer_id)
            .where(Member.tier_id.isnot(None), or_(last.c.last_at.is_(None), last.c.last_at < cutoff)))


def members_to_recall(session, days: int = DEFAULT_RECALL_DAYS, *, visible=None, limit: int = 100,
                      now: datetime | None = None) -> list[dict]:
    """Members with no purchase for `days` days, the biggest lifetime spenders first; `visible`
    limits them to the customers the caller sees (a subquery of ids; None: everyone)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    last = _last_purchase()
    stmt = (select(Customer, Member.lifetime_spend, Member.points_balance, Tier.name, last.c.last_at)
            .join(Member, Member.customer_id == Customer.id).join(Tier, Tier.id == Member.tier_id)
            .outerjoin(last, last.c.customer_id == Member.customer_id)
            .where(Customer.erased_at.is_(None), or_(last.c.last_at.is_(None), last.c.last_at < cutoff))
            .order_by(Member.lifetime_spend.desc(), Customer.id).limit(limit))
    if visible is not None:
        stmt = stmt.where(Customer.id.in_(visible))
    return [{"customer": c, "lifetime_spend": spend, "points_balance": points, "tier": tier, "last_purchase_at": at,
             "days_since": (now - at).days if at else None}
            for c, spend, points, tier, at in session.execute(stmt)]


def active_and_dormant(session, days: int = DEFAULT_ACTIVE_DAYS, now: datetime | None = None) -> dict:
    """Members per tier with a purchase within `days` days (active) and without (dormant)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    last = _last_purchase()
    active = case((last.c.last_at >= cutoff, 1), else_=0)
    rows = session.execute(
        select(Tier.code, Tier.name, func.count(Member.customer_id), func.coalesce(func.sum(active), 0))
        .select_from(Tier).outerjoin(Member, Member.tier_id == Tier.id)
        .outerjoin(last, last.c.customer_id == Member.customer_id).where(Tier.active.is_(True))
        .group_by(Tier.id, Tier.code, Tier.name, Tier.threshold).order_by(Tier.threshold, Tier.id)).all()
    return {"codes": [code for code, *_rest in rows], "tiers": [name for _c, name, _n, _a in rows],
            "active": [int(a) for _c, _n, _m, a in rows], "dormant": [int(n) - int(a) for _c, _name, n, a in rows]}


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last `months` months, oldest first, this month last."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return starts[::-1]


def points_by_month(session, tz: str, today: date | None = None, months: int = MONTHS) -> dict:
    """Per month of the store's calendar: points outstanding at its end (the liability, also in
    yuan at the redemption rate), points earned and redeemed in it, and the redemption rate
    (redeemed / earned, percent). One statement: a column per month and figure."""
    program = services.get_program(session)
    today = today or services.local_date(utcnow(), tz)
    starts, edges = month_edges(tz, today, months)
    at = PointsEntry.created_at
    columns = []
    for i in range(months):
        begin, end = edges[i], edges[i + 1]
        inside = and_(at >= begin, at < end)
        columns += [
            func.coalesce(func.sum(case((at < end, PointsEntry.points), else_=0)), 0),
            func.coalesce(func.sum(case((and_(inside, PointsEntry.kind == "earn"), PointsEntry.points), else_=0)), 0),
            func.coalesce(func.sum(case((and_(inside, PointsEntry.kind == "redeem"), -PointsEntry.points), else_=0)), 0),
        ]
    row = session.execute(select(*columns).select_from(PointsEntry)).one() if columns else []
    rate = Decimal(program.points_per_yuan_redeemed)
    out = {"months": [d.strftime("%Y-%m") for d in starts], "liability": [], "liability_yuan": [], "earned": [],
           "redeemed": [], "redemption_rate": []}
    for i in range(months):
        owed, earned, redeemed = (int(row[3 * i + k]) for k in range(3))
        out["liability"].append(owed)
        out["liability_yuan"].append((Decimal(owed) / rate).quantize(Decimal("0.01")))
        out["earned"].append(earned)
        out["redeemed"].append(redeemed)
        out["redemption_rate"].append((Decimal(redeemed) * 100 / earned).quantize(Decimal("0.1")) if earned else Decimal("0"))
    return out


def month_edges(tz: str, today: date, months: int) -> tuple[list[date], list[datetime]]:
    """The months' first days and their `months + 1` boundaries as moments of the store's clock."""
    zone = ZoneInfo(tz)
    starts = month_starts(today, months)
    nxt = date(starts[-1].year + (starts[-1].month == 12), starts[-1].month % 12 + 1, 1)
    return starts, [datetime.combine(d, time(0), zone) for d in [*starts, nxt]]


def members_by_tier_over_time(session, tz: str, today: date | None = None, months: int = MONTHS) -> dict:
    """Members per tier at each month's end (now, for this month), from the tier changes on the
    members' timelines (the `tier_change` activities: the latest before the month's end says
    the tier then). One statement per month, whatever the number of members."""
    today = today or services.local_date(utcnow(), tz)
    starts, edges = month_edges(tz, today, months)
    now = utcnow()
    tiers = services.active_tiers(session)
    counts = {t.code: [] for t in tiers}
    to = Activity.data["to"].as_string()
    for end in edges[1:]:
        moment = min(end, now)
        latest = (select(func.max(Activity.id).label("id"))
                  .where(Activity.kind == "tier_change", Activity.source == services.SOURCE, Activity.occurred_at < moment)
                  .group_by(Activity.customer_id).subquery())
        found = dict(session.execute(select(to, func.count()).join(latest, latest.c.id == Activity.id).group_by(to)).all())
        for code in counts:
            counts[code].append(int(found.get(code, 0)))
    return {"months": [d.strftime("%Y-%m") for d in starts], "tiers": [(t.code, t.name) for t in tiers],
            "counts": counts}


MAX_RECALL_DAYS = 3650  # ten years, as the insight page allows


def recall_filter(stmt, params: dict, now: datetime | None = None):
    """`segment_filters`' `membership_recall`: members with no purchase for `days` days."""
    days = params.get("days", DEFAULT_RECALL_DAYS)
    if isinstance(days, bool) or not isinstance(days, (int, str)) or not str(days).strip().isdigit() \
            or not 1 <= int(days) <= MAX_RECALL_DAYS:
        # campaigns answers a ValueError with a 400 naming the filter
        raise ValueError(f"days is a whole number of days from 1 to {MAX_RECALL_DAYS}")
    return stmt.where(Customer.id.in_(recall_ids(int(days), now)))


