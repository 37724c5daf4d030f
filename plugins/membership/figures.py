"""Membership's figures, each defined once: the members list, the dashboard and the customer page
all read them here, so the numbers they show agree.

- **Member** (会员): a customer enrolled in the program, i.e. whose account has a tier
  (`Member.tier_id` set: by spend reaching the first tier, or enrolled by hand). An account
  without a tier only counts spend towards the first tier; that customer is not yet a member
  (the customer page says 尚未入会) and is not on the members list.
- **Points liability** (积分负债): the points the members in scope hold, and their worth in ¥ at
  the program's redemption rate.
- **Scope**: `store_ids` is the stores the page covers (`None`: the whole chain, for owners in
  the chain view, leaving out the customers of sandbox stores). A store sees the members it sees as customers (`core.access.visible_customers`).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select

from core.access import visible_customers
from core.live_stores import live_customer
from core.models import Customer
from plugins.membership.models import Member, PointsEntry, Tier

CENT = Decimal("0.01")


def is_member():
    """The one definition of "member", as a WHERE clause on `Member`."""
    return Member.tier_id.is_not(None)


def members_in_scope(store_ids):
    """A WHERE clause on `Member`: members the stores `store_ids` see (None: the chain).
    The members list filters with it and the dashboard counts with it."""
    seen = select(Customer.id).where(Customer.erased_at.is_(None))
    if store_ids is not None:
        seen = seen.where(visible_customers(store_ids))
    else:  # the chain: sandbox stores' test members hold no real liability (core/live_stores.py)
        seen = seen.where(live_customer())
    return and_(is_member(), Member.customer_id.in_(seen))


def member_count(session, store_ids) -> int:
    return int(session.scalar(select(func.count(Member.customer_id)).where(members_in_scope(store_ids))))


def members_per_tier(session, store_ids) -> list[tuple[Tier, int]]:
    """Every tier (lowest threshold first) with its number of members in scope."""
    counts = dict(session.execute(select(Member.tier_id, func.count(Member.customer_id))
                                  .where(members_in_scope(store_ids)).group_by(Member.tier_id)).all())
    tiers = session.scalars(select(Tier).order_by(Tier.threshold, Tier.id)).all()
    return [(t, int(counts.get(t.id, 0))) for t in tiers]


def points_liability(session, store_ids) -> tuple[int, Decimal]:
    """Outstanding points of the members in scope (lots past their date left out, whether or not
    the expiry job ran), and their worth in ¥ at the redemption rate."""
    from plugins.membership.services import get_program, program_today

    program = get_program(session)
    held = int(session.scalar(select(func.coalesce(func.sum(Member.points_balance), 0))
                              .where(members_in_scope(store_ids))))
    expired = int(session.scalar(
        select(func.coalesce(func.sum(PointsEntry.remaining), 0))
        .join(Member, Member.customer_id == PointsEntry.customer_id)
        .where(members_in_scope(store_ids), PointsEntry.remaining > 0,
               PointsEntry.expires_on < program_today(program))))
    points = held - expired
    return points, (Decimal(points) / program.points_per_yuan_redeemed).quantize(CENT)


def dashboard_scope(store, user) -> list[int] | None:
    """The stores a dashboard covers: the picked store; the chain only for an owner (who alone
    has the chain view); otherwise the user's own stores."""
    if store is not None:
        return [store.id]
    if user is None or user.role == "owner":
        return None
    return [s.id for s in user.stores]
