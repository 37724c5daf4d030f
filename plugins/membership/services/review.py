"""Set-based tier work over many members: the yearly review (保级) and counting past sales."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import func, select

from core.models import Sale, utcnow
from plugins.membership.models import Member, Program, Spend, Tier
from plugins.membership.services.common import SOURCE, ZERO, birthday_in, local_date
from plugins.membership.services.members import change_tier, lock_member, purchases_sql
from plugins.membership.services.program import active_tiers, get_program, reaches_sql

def qualified_tier_sql(program: Program, now: datetime):
    """The id of the highest tier each member's counted spend and purchases reach (None below
    the first), as a scalar subquery correlated to `Member`, for set-based work."""
    spend = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == Member.customer_id)
    if program.qualification == "rolling_12m":
        spend = spend.where(Spend.occurred_at >= now - timedelta(days=365))
    # Two levels down, the spend still belongs to the outer query's member: say so explicitly.
    spend = spend.correlate(Member).scalar_subquery()
    purchases = purchases_sql(program, Member.customer_id, now)
    return (select(Tier.id).where(Tier.active.is_(True), reaches_sql(program.qualify_by, spend, purchases))
            .order_by(Tier.threshold.desc()).limit(1).correlate(Member).scalar_subquery())


def review_due(program: Program, today: date) -> bool:
    review_day = birthday_in(today.year, program.review_month, program.review_day)
    return today >= review_day and (program.last_review_on is None or program.last_review_on < review_day)


def yearly_review(session, today: date | None = None, *, force: bool = False, notify_for=None) -> dict:
    """The yearly review (保级): every unlocked member moves to the tier their counted spend
    qualifies for — down as well as up — never below the first tier. Members whose tier does
    not change are found in SQL and not touched."""
    program = get_program(session)
    today = today or local_date(utcnow(), program.timezone)
    if not force and not review_due(program, today):
        return {"reviewed": False}
    tiers = active_tiers(session)
    if not tiers:
        return {"reviewed": False}
    now = utcnow()
    qualified = qualified_tier_sql(program, now)
    target = func.coalesce(qualified, tiers[0].id)
    changed = session.execute(
        select(Member.customer_id, target).where(Member.tier_id.is_not(None), Member.tier_locked.is_(False),
                                                 Member.tier_id != target)
    ).all()
    by_id = {t.id: t for t in tiers}
    counts = {"upgrade": 0, "downgrade": 0}
    for n, (customer_id, tier_id) in enumerate(changed, 1):
        member = lock_member(session, customer_id)
        notify = notify_for(member.customer) if notify_for else None
        change = change_tier(session, member, by_id[tier_id], reason=f"yearly review {today.year}", notify=notify)
        if change:
            counts[change["direction"]] += 1
        if n % 500 == 0:
            session.commit()  # short transactions: tills selling to these members wait briefly, if at all
    program = get_program(session)
    program.last_review_on = today
    session.commit()
    return {"reviewed": True, **counts}


def recount_history(session, store_ids: list[int] | None = None) -> dict:
    """Count sales recorded before membership was on (an imported history, a store that enabled
    it later) towards tiers, so a customer with ¥5,000 of history starts as gold. Set-based:
    history rows, missed refunds and member rows are INSERT … SELECTs; only members whose tier
    rises are touched one by one (upwards only: the yearly review does the rest). History
    earns no points — points start with the program. Safe to run again: it adds nothing twice."""
    from core.models import Refund, SalePayment, StorePlugin

    if store_ids is None:
        store_ids = list(session.scalars(select(StorePlugin.store_id).where(StorePlugin.plugin == SOURCE,
                                                                           StorePlugin.enabled.is_(True))))
    if not store_ids:
        return {"sales": 0, "refunds": 0, "promoted": 0}
    live_key = sa.literal("sale:") + sa.cast(Sale.id, sa.String)
    history_key = sa.literal("history:sale:") + sa.cast(Sale.id, sa.String)
    points_paid = (select(func.coalesce(func.sum(SalePayment.amount), 0))
                   .where(SalePayment.sale_id == Sale.id, SalePayment.method == "points").scalar_subquery())
    counted = select(Spend.id).where(Spend.source_key.in_([live_key, history_key]))
    rows_before = session.scalar(select(func.count()).select_from(Spend))
    # Net of refunds already made and of points used as payment (what was really paid).
    session.execute(sa.insert(Spend).from_select(
        ["customer_id", "amount", "occurred_at", "sale_id", "source_key"],
        select(Sale.customer_id, Sale.total - Sale.refunded_total - points_paid, Sale.occurred_at, Sale.id, history_key)
        .where(Sale.customer_id.is_not(None), Sale.store_id.in_(store_ids), ~sa.exists(counted))))
    # (rowcount is not reliable for INSERT … SELECT on every driver: count instead)
    sales = session.scalar(select(func.count()).select_from(Spend)) - rows_before
    refund_key = sa.literal("refund:") + sa.cast(Refund.id, sa.String)
    # Refunds made while membership was off, of sales it had counted live.
    session.execute(sa.insert(Spend).from_select(
        ["customer_id", "amount", "occurred_at", "sale_id", "source_key"],
        select(Sale.customer_id, -Refund.amount, Sale.occurred_at, Sale.id, refund_key)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(Sale.customer_id.is_not(None), Sale.store_id.in_(store_ids),
               sa.exists(select(Spend.id).where(Spend.source_key == live_key)),
               ~sa.exists(select(Spend.id).where(Spend.source_key == refund_key)))))
    refunds = session.scalar(select(func.count()).select_from(Spend)) - rows_before - sales
    now = utcnow()
    session.execute(sa.insert(Member).from_select(
        ["customer_id", "points_balance", "lifetime_spend", "tier_locked", "created_at"],
        select(Spend.customer_id, sa.literal(0), sa.literal(ZERO, Member.lifetime_spend.type), sa.literal(False),
               sa.literal(now, Member.created_at.type))
        .where(~sa.exists(select(Member.customer_id).where(Member.customer_id == Spend.customer_id)))
        .distinct()))
    total = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == Member.customer_id)
    session.execute(sa.update(Member).values(lifetime_spend=total.scalar_subquery(),
                                             purchase_count=purchases_sql(None, Member.customer_id))
                    .execution_options(synchronize_session=False))
    session.expire_all()
    promoted = _promote_by_spend(session, now)
    session.flush()
    return {"sales": sales, "refunds": refunds, "promoted": promoted}


def _promote_by_spend(session, now: datetime) -> int:
    program = get_program(session)
    tiers = active_tiers(session)
    if not tiers:
        return 0
    qualified = qualified_tier_sql(program, now)
    current = select(Tier.threshold).where(Tier.id == Member.tier_id).correlate(Member).scalar_subquery()
    best = select(Tier.threshold).where(Tier.id == qualified).correlate(Member).scalar_subquery()
    rows = session.execute(select(Member.customer_id, qualified).where(
        Member.tier_locked.is_(False), qualified.is_not(None), sa.or_(Member.tier_id.is_(None), best > current))).all()
    by_id = {t.id: t for t in tiers}
    for customer_id, tier_id in rows:
        member = lock_member(session, customer_id)
        change_tier(session, member, by_id[tier_id], reason="purchase history counted", occurred_at=now)
    return len(rows)
