"""Rules of the exclusive yearly gift (专属礼品): plain functions on a session.

Each tier may have one gift plan (a name and the amount it takes off a sale). Once a calendar
year of the program's timezone, each member of a tier with an active plan gets one gift of
that plan, valid to 31 December: the daily job issues what is missing (set-based, so it is
safe to run twice and catches up after downtime; a member upgraded in the year gets the gift
of their new tier the next morning if they had none yet). At the till the member asks for it
(`options.gift: true`); the quote offers it as an adjustment of at most the rest of the
ticket, and the sale marks it redeemed in its own transaction. A refund does not give it back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import select

from core.errors import InvalidInput, Unprocessable
from core.models import utcnow
from plugins.membership import services
from plugins.membership.gifts.models import Gift, GiftPlan
from plugins.membership.models import Member, Tier

CODE = "gift"
LABEL = "Member gift / 会员专属礼品"
ZERO = Decimal("0.00")


def save_plan(session, tier: Tier, data: dict) -> GiftPlan:
    """Set (or change) a tier's gift: `{"name", "value", "active"}`."""
    plan = session.scalars(select(GiftPlan).where(GiftPlan.tier_id == tier.id)).first() or GiftPlan(tier_id=tier.id)
    name = (data.get("name", plan.name) or "").strip()
    value = data.get("value", plan.value)
    errors = {}
    if not name:
        errors["name"] = ["Name the gift."]
    if value is None or Decimal(value) <= 0:
        errors["value"] = ["What the gift takes off a sale, above ¥0."]
    if errors:
        raise InvalidInput("the gift is not valid", fields=errors)
    plan.name, plan.value = name[:100], Decimal(value).quantize(Decimal("0.01"))
    plan.active = bool(data.get("active", True if plan.active is None else plan.active))
    session.add(plan)
    session.flush()
    return plan


def issue(session, today: date | None = None) -> int:
    """This year's gift to every member of a tier with an active plan who has none this year.
    One INSERT … SELECT; returns the gifts issued."""
    program = services.get_program(session)
    today = today or services.local_date(utcnow(), program.timezone)
    has_one = select(Gift.id).where(Gift.customer_id == Member.customer_id, Gift.year == today.year).exists()
    chosen = (select(Member.customer_id, GiftPlan.id, sa.literal(today.year), GiftPlan.name, GiftPlan.value,
                     sa.literal("issued"), sa.literal(utcnow(), type_=Gift.issued_at.type),
                     sa.literal(date(today.year, 12, 31), type_=sa.Date()))
              .join(GiftPlan, GiftPlan.tier_id == Member.tier_id)
              .where(GiftPlan.active.is_(True), ~has_one))
    # Counted through RETURNING: PostgreSQL's driver gives no rowcount for INSERT … SELECT.
    return len(session.execute(sa.insert(Gift).from_select(
        ["customer_id", "plan_id", "year", "name", "value", "state", "issued_at", "expires_on"], chosen)
        .returning(Gift.id)).all())


def available(session, customer_id: int, today: date, *, lock: bool = False) -> Gift | None:
    stmt = select(Gift).where(Gift.customer_id == customer_id, Gift.state == "issued", Gift.expires_on >= today,
                              Gift.year == today.year)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def with_gift(session, store, cart: dict, customer, adjustments: list[dict]) -> list[dict]:
    """The quote's adjustments plus the member's gift when the till asks for it (`options.gift`);
    asking without one to take is a 422. Read only when asked: a common sale costs nothing."""
    if not (cart.get("options") or {}).get("gift"):
        return adjustments
    program = services.get_program(session)
    today = services.local_date(utcnow(), program.timezone)
    gift = available(session, customer.id, today, lock=True) if customer is not None and customer.id else None
    if gift is None:
        raise Unprocessable("no exclusive gift to take", fields={"options.gift": [
            "This customer has no exclusive gift left this year."]})
    left = Decimal(cart["subtotal"]) + sum((Decimal(a["amount"]) for a in adjustments), ZERO)
    amount = min(gift.value, max(left, ZERO))
    if amount <= 0:
        return adjustments
    return adjustments + [{"source": services.SOURCE, "code": CODE, "label": LABEL, "amount": -amount,
                           "data": {"gift": gift.id, "name": gift.name, "year": gift.year}}]


def mark_redeemed(session, sale) -> None:
    """In the sale's transaction: the gift its adjustment took is used (no statement otherwise)."""
    for adjustment in sale.adjustments:
        if adjustment.source == services.SOURCE and adjustment.code == CODE:
            session.execute(sa.update(Gift).where(Gift.id == int(adjustment.data["gift"]), Gift.state == "issued")
                            .values(state="redeemed", sale_id=sale.id, store_id=sale.store_id, redeemed_at=utcnow()))


def gifts_of(session, customer_id: int) -> list[Gift]:
    return list(session.scalars(select(Gift).where(Gift.customer_id == customer_id).order_by(Gift.year.desc())))


def view(gift: Gift) -> dict:
    return {"id": gift.id, "year": gift.year, "name": gift.name, "value": gift.value, "state": gift.state,
            "expires_on": gift.expires_on, "sale_id": gift.sale_id, "redeemed_at": gift.redeemed_at}


def export(session, customer_id: int) -> list[dict]:
    return [{"year": g.year, "name": g.name, "value": str(g.value), "state": g.state} for g in gifts_of(session, customer_id)]


def erase(session, customer_id: int) -> None:
    session.execute(sa.delete(Gift).where(Gift.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> dict[str, int]:
    """The merged profile's gifts move unless the kept one has that year's already (then dropped)."""
    years = select(Gift.year).where(Gift.customer_id == kept_id)
    session.execute(sa.delete(Gift).where(Gift.customer_id == merged_id, Gift.year.in_(years)))
    moved = session.execute(sa.update(Gift).where(Gift.customer_id == merged_id).values(customer_id=kept_id)).rowcount
    return {Gift.__tablename__: moved} if moved else {}


def job_issue() -> int:
    """Daily (register_jobs): issue what is missing this year, then commit."""
    from core.extensions import db

    issued = issue(db.session)
    db.session.commit()
    return issued
