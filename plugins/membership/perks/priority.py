"""Priority service (优先客服, seed 000): members whose tier carries the `priority_service` perk
are marked at the counter and, when the store's setting says so, their open complaints come
first in feedback's queue — both through the `customer_priority` hook."""

from __future__ import annotations

from sqlalchemy import select

from plugins.membership import services
from plugins.membership.models import Member, Tier

PERK = "priority_service"
PURPOSES = ("counter", "complaints")


def ranks(session, customer_ids: list[int]) -> dict[int, int]:
    """{customer_id: rank} for members of a tier with priority service; rank = the tier's place
    in the program (1 for the lowest tier), so a higher tier comes first. One query."""
    ids = [int(i) for i in customer_ids if i is not None][:1000]
    if not ids:
        return {}
    place = {t.id: i + 1 for i, t in enumerate(services.active_tiers(session))}
    rows = session.execute(select(Member.customer_id, Tier.id, Tier.perks).join(Tier, Tier.id == Member.tier_id)
                           .where(Member.customer_id.in_(ids))).all()
    return {cid: max(place.get(tid, 1), 1) for cid, tid, perks in rows if PERK in (perks or [])}


def priority(session, settings: dict, customer_ids: list[int], purpose: str) -> dict[int, int] | None:
    if purpose not in PURPOSES:
        return None
    if purpose == "complaints" and not settings.get("priority_complaints_first", True):
        return None
    return ranks(session, customer_ids) or None
