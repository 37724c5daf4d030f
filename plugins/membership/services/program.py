"""The program, its tiers and member days: reading and saving the configuration."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func, select

from core.audit import audit
from core.errors import Conflict, InvalidInput, NotFound
from plugins.membership.models import MemberDay, Program, Tier

# Seed 000's table. Names are stored per locale at seeding; an admin may rename them. The
# purchase counts are ours (seed 000 names counting purchases but gives no numbers); they act
# only when the program qualifies by purchases or by either.
DEFAULT_TIERS = (
    {"code": "ordinary", "names": {"zh_CN": "普通会员", "en": "Ordinary member"}, "threshold": "1000",
     "min_purchases": 10, "points_rate": "1.0", "birthday_discount_percent": "20", "perks": []},
    {"code": "silver", "names": {"zh_CN": "银卡会员", "en": "Silver member"}, "threshold": "3000",
     "min_purchases": 30, "points_rate": "1.2", "birthday_discount_percent": "30", "perks": ["event_priority"]},
    {"code": "gold", "names": {"zh_CN": "金卡会员", "en": "Gold member"}, "threshold": "5000",
     "min_purchases": 50, "points_rate": "1.5", "birthday_discount_percent": "40", "perks": ["exclusive_gift", "priority_service"]},
)


# --- program and tiers ----------------------------------------------------------------------------

def get_program(session) -> Program:
    program = session.scalars(select(Program).order_by(Program.id).limit(1)).first()
    if program is None:
        program = Program(qualification="lifetime", qualify_by="spend", refund_downgrade="immediate", review_month=1, review_day=1,
                          expiry_years=1, points_per_yuan_redeemed=100, redeem_max_percent=Decimal("50"),
                          birthday_points_multiplier=Decimal("2"), birthday_window_days=3, timezone="Asia/Shanghai")
        session.add(program)
        session.flush()
    return program


def seed_defaults(session, locale: str = "zh_CN") -> bool:
    """The program and seed 000's three tiers, when none exist yet. Returns whether it seeded."""
    get_program(session)
    if session.scalar(select(func.count()).select_from(Tier)):
        return False
    lang = "zh_CN" if locale.startswith("zh") else "en"
    for spec in DEFAULT_TIERS:
        session.add(Tier(code=spec["code"], name=spec["names"][lang], threshold=Decimal(spec["threshold"]),
                         min_purchases=spec.get("min_purchases"), points_rate=Decimal(spec["points_rate"]),
                         birthday_discount_percent=Decimal(spec["birthday_discount_percent"]),
                         full_price_discount_percent=Decimal("0"), perks=list(spec["perks"]), active=True))
    session.flush()
    return True


def active_tiers(session) -> list[Tier]:
    """Tiers from the lowest threshold up."""
    return list(session.scalars(select(Tier).where(Tier.active.is_(True)).order_by(Tier.threshold, Tier.id)))


def reaches(tier: Tier, spend: Decimal, purchases: int, qualify_by: str = "spend") -> bool:
    """Whether counted `spend` and `purchases` reach `tier` under the program's `qualify_by`:
    exactly on a threshold (¥ or number of purchases) qualifies; a tier without a purchase
    count cannot be reached by purchases."""
    by_spend = spend >= tier.threshold
    by_count = tier.min_purchases is not None and purchases >= tier.min_purchases
    if qualify_by == "purchases":
        return by_count
    if qualify_by == "either":
        return by_spend or by_count
    return by_spend


def tier_for(tiers: list[Tier], spend: Decimal, purchases: int = 0, qualify_by: str = "spend") -> Tier | None:
    """The highest tier (in threshold order) that `spend` / `purchases` reach."""
    reached = [t for t in tiers if reaches(t, spend, purchases, qualify_by)]
    return reached[-1] if reached else None


def tier_for_spend(tiers: list[Tier], spend: Decimal) -> Tier | None:
    """The highest tier whose threshold the spend reaches; exactly on a threshold qualifies."""
    return tier_for(tiers, spend)


def reaches_sql(qualify_by: str, spend, purchases):
    """`reaches` as a SQL condition on `Tier`, for set-based work over many members."""
    by_spend = Tier.threshold <= spend
    by_count = Tier.min_purchases.is_not(None) & (Tier.min_purchases <= purchases)
    if qualify_by == "purchases":
        return by_count
    if qualify_by == "either":
        return sa.or_(by_spend, by_count)
    return by_spend


def rank(tiers: list[Tier], tier: Tier | None) -> int:
    return -1 if tier is None else next((i for i, t in enumerate(tiers) if t.id == tier.id), -1)


def get_tier(session, code: str) -> Tier:
    tier = session.scalars(select(Tier).where(Tier.code == code)).first()
    if tier is None:
        raise NotFound(f"no tier {code}")
    return tier


def save_tier(session, data: dict, tier: Tier | None = None, *, user=None, actor="system") -> Tier:
    if tier is None:
        if session.scalars(select(Tier).where(Tier.code == data["code"])).first() is not None:
            raise Conflict(f"a tier {data['code']} exists already", fields={"code": ["Already in use."]})
        tier = Tier(perks=[], active=True, birthday_discount_percent=Decimal("0"),
                    full_price_discount_percent=Decimal("0"))
        session.add(tier)
    elif "code" in data and data["code"] != tier.code:
        raise InvalidInput("a tier's code cannot change", fields={"code": ["Tier codes are fixed once made."]})
    for key, value in data.items():
        setattr(tier, key, value)
    session.flush()
    audit("membership_tier_saved", actor=user or actor, target=("membership_tier", tier.id), session=session,
          details={k: str(v) for k, v in data.items()})
    return tier


def update_program(session, data: dict, *, user=None, actor="system") -> Program:
    program = get_program(session)
    month, day = data.get("review_month", program.review_month), data.get("review_day", program.review_day)
    try:
        date(2024, month, day)  # a leap year: 29 February is a valid review date (28th in other years)
    except ValueError as exc:
        raise InvalidInput("no such review date", fields={"review_day": [f"Month {month} has no day {day}."]}) from exc
    if "timezone" in data:
        try:
            ZoneInfo(data["timezone"])
        except Exception as exc:  # noqa: BLE001 - any unknown zone name is the caller's mistake
            raise InvalidInput("unknown time zone", fields={"timezone": ["Not a time zone name."]}) from exc
    for key, value in data.items():
        setattr(program, key, value)
    session.flush()
    session.refresh(program)
    audit("membership_program_changed", actor=user or actor, target=("membership_program", program.id),
          session=session, details={k: str(v) for k, v in data.items()})
    return program


def save_member_day(session, data: dict, day: MemberDay | None = None, *, user=None, actor="system") -> MemberDay:
    from core.models import Store

    data = dict(data)
    if "only_store" in data:
        code = data.pop("only_store")
        store = session.scalars(select(Store).where(Store.code == code)).first() if code else None
        if code and store is None:
            raise InvalidInput("unknown store", fields={"only_store": [f"No store {code}."]})
        data["store_id"] = store.id if store else None
    if day is None:
        day = MemberDay(discount_percent=Decimal("0"), points_multiplier=Decimal("1"), active=True)
        session.add(day)
    for key, value in data.items():
        if value is None and key in ("discount_percent", "points_multiplier"):
            continue
        setattr(day, key, value)
    if day.weekday is None and day.day_of_month is None:
        raise InvalidInput("a member day needs a date rule", fields={"weekday": ["Give a weekday or a day of the month."]})
    session.flush()
    audit("membership_member_day_saved", actor=user or actor, target=("membership_member_day", day.id),
          session=session, details={k: str(v) for k, v in data.items()})
    return day


def member_days_on(session, store_id: int | None, day: date) -> list[MemberDay]:
    rows = session.scalars(select(MemberDay).where(
        MemberDay.active.is_(True),
        sa.or_(MemberDay.store_id.is_(None), MemberDay.store_id == store_id),
        sa.or_(MemberDay.weekday == day.weekday(), MemberDay.day_of_month == day.day),
    ))
    return list(rows)
