"""Reading a member's account and the program's figures; personal data export, erasure, merge."""

from __future__ import annotations


import sqlalchemy as sa
from sqlalchemy import func, select

from core.models import Customer, utcnow
from plugins.membership.models import Member, PointsEntry, Spend, Tier
from plugins.membership.services.common import ZERO
from plugins.membership.services.ledger import available_points, live_lot, program_today
from plugins.membership.services.members import counted_purchases, find_member, lock_member, tiers_and_counts
from plugins.membership.services.program import active_tiers, get_program, rank

# --- reading ---------------------------------------------------------------------------------------

def member_view(session, customer: Customer, ledger_limit: int = 50) -> dict:
    member = find_member(session, customer.id)
    program = get_program(session)
    today = program_today(program)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer.id)
                              .order_by(PointsEntry.id.desc()).limit(ledger_limit)).all()
    tiers, spend, _n = tiers_and_counts(session, program, customer.id, utcnow())
    purchases = counted_purchases(session, program, customer.id, utcnow())
    current = member.tier if member else None
    higher = [t for t in tiers if rank(tiers, t) > rank(tiers, current)]
    return {
        "customer_id": customer.id,
        "member": bool(member and member.is_member),
        "tier": _tier_brief(current),
        "tier_locked": bool(member and member.tier_locked),
        "enrolled_at": member.enrolled_at if member else None,
        "enrolled_by": member.enrolled_by if member else None,
        # What may be spent today: lots past their date count for nothing, job or no job.
        "points_balance": available_points(session, member, today),
        "lifetime_spend": member.lifetime_spend if member else ZERO,
        "qualifying_spend": spend,
        "qualifying_purchases": purchases,
        "qualification": program.qualification,
        "qualify_by": program.qualify_by,
        "next_tier": _tier_brief(higher[0]) if higher else None,
        "spend_to_next_tier": max(higher[0].threshold - spend, ZERO) if higher else None,
        "purchases_to_next_tier": (max(higher[0].min_purchases - purchases, 0)
                                   if higher and higher[0].min_purchases is not None else None),
        "expiring": _expiring(session, customer.id, today),
        "ledger": entries,
    }


def _tier_brief(tier: Tier | None) -> dict | None:
    return None if tier is None else {"code": tier.code, "name": tier.name, "threshold": tier.threshold,
                                      "min_purchases": tier.min_purchases,
                                      "points_rate": tier.points_rate,
                                      "birthday_discount_percent": tier.birthday_discount_percent, "perks": tier.perks}


def _expiring(session, customer_id: int, today) -> list[dict]:
    rows = session.execute(select(PointsEntry.expires_on, func.sum(PointsEntry.remaining))
                           .where(PointsEntry.customer_id == customer_id, live_lot(today))
                           .group_by(PointsEntry.expires_on).order_by(PointsEntry.expires_on)).all()
    return [{"expires_on": d, "points": int(n)} for d, n in rows]


# --- personal data ---------------------------------------------------------------------------------

def export(session, customer: Customer) -> dict | None:
    member = find_member(session, customer.id)
    if member is None:
        return None
    entries = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer.id).order_by(PointsEntry.id))
    return {
        "tier": member.tier.code if member.tier else None, "tier_locked": member.tier_locked,
        "enrolled_at": member.enrolled_at.isoformat() if member.enrolled_at else None,
        "points_balance": member.points_balance, "lifetime_spend": str(member.lifetime_spend),
        "ledger": [{"at": e.created_at.isoformat(), "kind": e.kind, "points": e.points, "reason": e.reason,
                    "sale_id": e.sale_id, "expires_on": e.expires_on.isoformat() if e.expires_on else None}
                   for e in entries],
    }


def erase(session, customer_id: int) -> None:
    """Membership holds no contact data; the account, ledger and spend go with the person."""
    for model in (PointsEntry, Spend, Member):
        session.execute(sa.delete(model).where(model.customer_id == customer_id))


def merge(session, kept: Customer, merged: Customer) -> dict[str, int]:
    """Fold `merged`'s account into `kept`'s: ledger and spend move, the higher tier stays.
    Returns the rows moved per table (the merge's answer counts them)."""
    if find_member(session, merged.id) is None:
        return {}
    first, second = sorted([kept.id, merged.id])
    lock_member(session, first)
    lock_member(session, second)
    target = session.get(Member, kept.id)
    source = session.get(Member, merged.id)
    entries = session.execute(sa.update(PointsEntry).where(PointsEntry.customer_id == merged.id)
                              .values(customer_id=kept.id)).rowcount
    spends = session.execute(sa.update(Spend).where(Spend.customer_id == merged.id).values(customer_id=kept.id)).rowcount
    target.points_balance += source.points_balance
    target.lifetime_spend += source.lifetime_spend
    target.purchase_count = (target.purchase_count or 0) + (source.purchase_count or 0)
    tiers = active_tiers(session)
    if rank(tiers, source.tier) > rank(tiers, target.tier):
        target.tier_id = source.tier_id
        target.tier_since = source.tier_since
    target.tier_locked = target.tier_locked or source.tier_locked
    if target.enrolled_at is None or (source.enrolled_at and source.enrolled_at < target.enrolled_at):
        target.enrolled_at, target.enrolled_by = source.enrolled_at, source.enrolled_by
        target.enrolled_store_id, target.enrolled_staff_id = source.enrolled_store_id, source.enrolled_staff_id
        target.enrolled_sale_id = source.enrolled_sale_id
    session.delete(source)
    session.flush()
    return {PointsEntry.__tablename__: entries, Spend.__tablename__: spends, Member.__tablename__: 1}
