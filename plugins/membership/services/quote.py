"""The till's quote: member discounts and points as payment, computed by the server."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.errors import Unprocessable
from core.models import Customer, Sale, SaleAdjustment, utcnow
from plugins.membership.models import Program
from plugins.membership.services.common import SOURCE, ZERO, cents_down, in_birthday_week, local_date, whole_points
from plugins.membership.services.ledger import not_enough_points, till_lock

# --- the till's quote -----------------------------------------------------------------------------

def quote(session, store, settings: dict, cart: dict, customer: Customer | None, now: datetime | None = None) -> list[dict]:
    """Adjustments offered to a member: the best one member discount (birthday week, member
    day or member price on full-price goods — they do not stack), then points as payment if
    asked for (`options.redeem_points`: a number or "max"), capped by the program."""
    if customer is None or customer.id is None:
        return []
    # Locked: at sale time this runs in the sale's transaction (the core recomputes what the
    # till posted), so the balance and "birthday discount used" it reads stay true until the
    # commit; another till selling to the same member waits here.
    member, available, config, _today = till_lock(session, customer.id, create=False, remember=True)
    program = config.program
    requested = requested_points((cart.get("options") or {}).get("redeem_points"), available, settings)
    if member is None or not member.is_member:
        return []
    tier = config.tier(member.tier_id) or member.tier  # a tier switched off since: still the member's
    day = local_date(now or utcnow(), store.timezone)
    subtotal = Decimal(cart["subtotal"])
    offers = []
    if settings.get("member_price_enabled", True) and tier.full_price_discount_percent:
        full = sum((Decimal(l["amount"]) for l in cart["lines"] if l.get("full_price")), ZERO)
        offers.append(("member_price", full * tier.full_price_discount_percent / 100,
                       {"percent": str(tier.full_price_discount_percent)}))
    if (settings.get("birthday_discount_enabled", True) and tier.birthday_discount_percent
            and in_birthday_week(customer, day, program.birthday_window_days)
            and not birthday_discount_used(session, customer.id, program, now or utcnow())):
        offers.append(("birthday", subtotal * tier.birthday_discount_percent / 100,
                       {"percent": str(tier.birthday_discount_percent), "tier": tier.code}))
    if settings.get("member_days_enabled", True):
        for md in config.member_days_on(store.id, day):
            if md.discount_percent:
                offers.append(("member_day", subtotal * md.discount_percent / 100,
                               {"percent": str(md.discount_percent), "member_day": md.id, "name": md.name}))
    adjustments = []
    discount = ZERO
    if offers:
        code, amount, data = max(offers, key=lambda o: o[1])
        discount = cents_down(amount)
        if discount > 0:
            adjustments.append({"source": SOURCE, "code": code, "label": LABELS[code], "amount": -discount,
                                "data": data})
    if requested:
        ticket = subtotal - discount
        rate = program.points_per_yuan_redeemed
        cap = cents_down(ticket * program.redeem_max_percent / 100)
        most = min(available, whole_points(cap * rate))
        # Within the balance, a number asks for up to that many: the ticket's cap trims it
        # (`max_points` says how far it may go); "max" is exactly what the cap allows.
        points = most if requested == "max" else min(requested, most)
        if points > 0:
            amount = cents_down(Decimal(points) / rate)
            adjustments.append({"source": SOURCE, "code": "points", "label": LABELS["points"], "amount": -amount,
                                "data": {"points": points, "balance": available, "max_points": most}})
    return adjustments


def requested_points(value, available: int, settings: dict) -> int | str | None:
    """`options.redeem_points` as asked: None or 0 (nothing), "max", or a whole number of points
    within what the member may spend today. Anything else is a 422 naming the balance: a
    negative or non-numeric value, more than the balance, or points where the store takes none."""
    if value is None or value == 0:
        return None
    field = "options.redeem_points"
    if not settings.get("redemption_enabled", True):
        raise Unprocessable("this store does not take points", fields={field: [
            "Points are not taken as payment in this store."]}, details={"balance": available})
    if value == "max":
        return "max"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unprocessable("redeem_points is a whole number of points or \"max\"", fields={field: [
            f"Give a whole number of points or \"max\"; the balance is {available} points."]},
            details={"balance": available})
    if value < 0:
        raise Unprocessable("redeem_points cannot be negative", fields={field: [
            f"Give a positive number of points; the balance is {available} points."]}, details={"balance": available})
    if value > available:
        raise not_enough_points(available, value, field)
    return value


LABELS = {"birthday": "Birthday discount / 生日优惠", "member_day": "Member day / 会员日",
          "member_price": "Member price / 会员价", "points": "Points / 积分抵现"}


def birthday_discount_used(session, customer_id: int, program: Program, now: datetime) -> bool:
    """Once per birthday: a sale with the birthday discount within this birthday week."""
    since = now - timedelta(days=2 * program.birthday_window_days + 1)
    return session.scalars(
        select(SaleAdjustment.id).join(Sale, Sale.id == SaleAdjustment.sale_id)
        .where(Sale.customer_id == customer_id, Sale.occurred_at >= since, SaleAdjustment.source == SOURCE,
               SaleAdjustment.code == "birthday").limit(1)
    ).first() is not None
