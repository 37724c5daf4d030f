"""The standing tier discount (seed 000: 金卡会员可以享受更高的折扣).

A tier's `standing_discount_percent` is one more member discount, beside member price,
the birthday week and member days. The rule (README, "Perks that act"): a sale gets the one
largest member discount, never two — so a gold member in birthday week gets 40% off, not 45%.
When the standing discount is the largest it replaces the one the quote chose, and points as
payment are capped again on the smaller ticket."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from plugins.membership import services
from plugins.membership.models import Member, Tier

CODE = "tier_discount"
LABEL = "Member tier discount / 会员等级折扣"
MEMBER_DISCOUNTS = ("member_price", "birthday", "member_day")
ZERO = Decimal("0.00")


def with_standing_discount(session, settings: dict, cart: dict, customer, adjustments: list[dict]) -> list[dict]:
    """`adjustments` (the quote's) with the tier's standing discount when it is the largest."""
    if customer is None or customer.id is None or not settings.get("tier_discount_enabled", True):
        return adjustments
    # One statement, only for a member's quote (the quote has locked the member row already);
    # what they may spend is the balance less lots past their date (expiry is a fact of the date).
    today = services.program_today(services.get_program(session))
    spendable = Member.points_balance - services.expired_unwritten(Member.customer_id, today)
    row = session.execute(select(Tier.standing_discount_percent, Tier.code, spendable.label("points_balance"))
                          .join(Member, Member.tier_id == Tier.id).where(Member.customer_id == customer.id)).first()
    if row is None or not row.standing_discount_percent:
        return adjustments
    percent = row.standing_discount_percent
    subtotal = Decimal(cart["subtotal"])
    standing = services.cents_down(subtotal * percent / 100)
    chosen = next((a for a in adjustments if a["code"] in MEMBER_DISCOUNTS), None)
    if standing <= 0 or (chosen is not None and -Decimal(chosen["amount"]) >= standing):
        return adjustments
    rest = [a for a in adjustments if a is not chosen]
    offer = {"source": services.SOURCE, "code": CODE, "label": LABEL, "amount": -standing,
             "data": {"percent": str(percent), "tier": row.code}}
    return [offer] + _recapped_points(session, row.points_balance, subtotal - standing, rest)


def _recapped_points(session, balance: int, ticket: Decimal, adjustments: list[dict]) -> list[dict]:
    """Points as payment may pay the program's share of the ticket after the member discount:
    the larger discount makes the ticket smaller, so the points the quote offered shrink too."""
    points = next((a for a in adjustments if a["code"] == "points"), None)
    if points is None:
        return adjustments
    program = services.get_program(session)
    rate = program.points_per_yuan_redeemed
    most = min(balance,
               services.whole_points(services.cents_down(ticket * program.redeem_max_percent / 100) * rate))
    wanted = int(points["data"]["points"])
    use = min(wanted, most)
    others = [a for a in adjustments if a is not points]
    if use <= 0:
        return others
    amount = services.cents_down(Decimal(use) / rate)
    return others + [{**points, "amount": -amount, "data": {**points["data"], "points": use, "max_points": most}}]


# Seed 000 gives gold "a higher discount"; the others have none until the owner sets one.
DEFAULT_STANDING = {"gold": Decimal("5")}


def seed_standing_discounts(session) -> None:
    """Right after the default tiers are made: gold's documented 5% standing discount."""
    for code, percent in DEFAULT_STANDING.items():
        session.execute(update(Tier).where(Tier.code == code).values(standing_discount_percent=percent))
