"""Membership rules (plugins.md "membership", seeds 000 and 002): plain functions on a session.

Every change to a member's points or spend happens under that member's row lock
(`SELECT … FOR UPDATE` on `membership_member`), so two tills selling to the same member at
once cannot lose an update, and a redemption cannot spend the same points twice anywhere in
the chain. Each entry made for an event carries a `source_key`, so a redelivered event adds
nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.audit import audit
from core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from core.models import Activity, Customer, Sale, SaleAdjustment, utcnow
from plugins.membership.models import MemberDay, Member, PointsEntry, Program, Spend, Tier

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
SOURCE = "membership"

# Seed 000's table. Names are stored per locale at seeding; an admin may rename them.
DEFAULT_TIERS = (
    {"code": "ordinary", "names": {"zh_CN": "普通会员", "en": "Ordinary member"}, "threshold": "1000",
     "points_rate": "1.0", "birthday_discount_percent": "20", "perks": []},
    {"code": "silver", "names": {"zh_CN": "银卡会员", "en": "Silver member"}, "threshold": "3000",
     "points_rate": "1.2", "birthday_discount_percent": "30", "perks": ["event_priority"]},
    {"code": "gold", "names": {"zh_CN": "金卡会员", "en": "Gold member"}, "threshold": "5000",
     "points_rate": "1.5", "birthday_discount_percent": "40", "perks": ["exclusive_gift", "priority_service"]},
)


def cents_down(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def whole_points(value: Decimal) -> int:
    """Points are whole: fractions are dropped (rounded down), never rounded up."""
    return int(Decimal(value).to_integral_value(rounding=ROUND_DOWN))


# --- program and tiers ----------------------------------------------------------------------------

def get_program(session) -> Program:
    program = session.scalars(select(Program).order_by(Program.id).limit(1)).first()
    if program is None:
        program = Program(qualification="lifetime", refund_downgrade="immediate", review_month=1, review_day=1,
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
                         points_rate=Decimal(spec["points_rate"]),
                         birthday_discount_percent=Decimal(spec["birthday_discount_percent"]),
                         full_price_discount_percent=Decimal("0"), perks=list(spec["perks"]), active=True))
    session.flush()
    return True


def active_tiers(session) -> list[Tier]:
    """Tiers from the lowest threshold up."""
    return list(session.scalars(select(Tier).where(Tier.active.is_(True)).order_by(Tier.threshold, Tier.id)))


def tier_for_spend(tiers: list[Tier], spend: Decimal) -> Tier | None:
    """The highest tier whose threshold the spend reaches; exactly on a threshold qualifies."""
    reached = [t for t in tiers if spend >= t.threshold]
    return reached[-1] if reached else None


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


# --- dates -----------------------------------------------------------------------------------------

def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def birthday_in(year: int, month: int, day: int) -> date:
    # Someone born on 29 February celebrates on 28 February in a year that is not a leap year.
    if month == 2 and day == 29 and not _leap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_birthday(customer: Customer | None, day: date) -> bool:
    if customer is None or not (customer.birth_month and customer.birth_day):
        return False
    return birthday_in(day.year, customer.birth_month, customer.birth_day) == day


def in_birthday_week(customer: Customer | None, day: date, half_width: int) -> bool:
    """Within `half_width` days of the birthday (the week around it with the default 3)."""
    if customer is None or not (customer.birth_month and customer.birth_day):
        return False
    for year in (day.year - 1, day.year, day.year + 1):
        if abs((birthday_in(year, customer.birth_month, customer.birth_day) - day).days) <= half_width:
            return True
    return False


def expiry_for(program: Program, earned_on: date) -> date | None:
    """Default: the end of the year after the one the points were earned in."""
    if not program.expiry_years:
        return None
    return date(earned_on.year + program.expiry_years, 12, 31)


def member_days_on(session, store_id: int | None, day: date) -> list[MemberDay]:
    rows = session.scalars(select(MemberDay).where(
        MemberDay.active.is_(True),
        sa.or_(MemberDay.store_id.is_(None), MemberDay.store_id == store_id),
        sa.or_(MemberDay.weekday == day.weekday(), MemberDay.day_of_month == day.day),
    ))
    return list(rows)


# --- member rows and locking --------------------------------------------------------------------

def _locked_member(customer_id: int):
    """SELECT the member row FOR UPDATE, refreshed: what another till committed is what counts."""
    return (select(Member).where(Member.customer_id == customer_id).with_for_update()
            .execution_options(populate_existing=True))


def lock_member(session, customer_id: int) -> Member:
    """The member row of `customer_id`, created if missing, locked for this transaction.

    A returning member (the usual case at a till) costs one statement: the locking SELECT.
    Only when it finds nothing is the row inserted and selected again."""
    locked = _locked_member(customer_id)
    member = session.scalars(locked).first()
    if member is not None:
        return member
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Member)
        # Two tills creating the same member at once: one inserts, the other waits and skips.
        session.execute(insert.values(customer_id=customer_id, points_balance=0, lifetime_spend=ZERO,
                                      tier_locked=False, created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["customer_id"]))
    elif session.get(Member, customer_id) is None:
        session.add(Member(customer_id=customer_id, points_balance=0, lifetime_spend=ZERO, tier_locked=False))
        session.flush()
    return session.scalars(locked).one()


def find_member(session, customer_id: int) -> Member | None:
    return session.get(Member, customer_id)


def counted_spend(session, program: Program, customer_id: int, now: datetime) -> Decimal:
    """Spend that qualifies for tiers: lifetime, or the last 12 months (program setting)."""
    return Decimal(session.scalar(_counted_spend_query(program, customer_id, now))).quantize(CENT)


def _counted_spend_query(program: Program, customer_id: int, now: datetime):
    query = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == customer_id)
    if program.qualification == "rolling_12m":
        query = query.where(Spend.occurred_at >= now - timedelta(days=365))
    return query


def tiers_and_counted_spend(session, program: Program, customer_id: int, now: datetime) -> tuple[list[Tier], Decimal]:
    """`active_tiers` and `counted_spend` in one round trip: the spend rides on every tier row
    (without tiers it is not needed, as no tier can be reached: 0 is returned)."""
    rows = session.execute(select(Tier, _counted_spend_query(program, customer_id, now).scalar_subquery())
                           .where(Tier.active.is_(True)).order_by(Tier.threshold, Tier.id)).all()
    spend = Decimal(rows[0][1]).quantize(CENT) if rows else ZERO
    return [tier for tier, _spend in rows], spend


def _add_spend(session, member: Member, amount: Decimal, occurred_at: datetime, sale_id: int | None, key: str,
               *, checked: bool = False, flush: bool = True) -> bool:
    """`checked`: the caller already knows, under the member's lock, that `key` is not counted.
    `flush=False`: the caller's next flush writes it (with the member's other changes)."""
    if not checked and session.scalars(select(Spend.id).where(Spend.source_key == key)).first() is not None:
        return False
    session.add(Spend(customer_id=member.customer_id, amount=amount, occurred_at=occurred_at, sale_id=sale_id,
                      source_key=key))
    member.lifetime_spend = (member.lifetime_spend or ZERO) + amount
    if flush:
        session.flush()
    return True


# --- the ledger --------------------------------------------------------------------------------------

def entry_exists(session, key: str) -> PointsEntry | None:
    return session.scalars(select(PointsEntry).where(PointsEntry.source_key == key)).first()


def _credit(session, member: Member, kind: str, points: int, *, expires_on, reason="", key=None, sale=None,
            refund=None, store=None, user=None, actor="system", data=None) -> PointsEntry:
    entry = PointsEntry(customer_id=member.customer_id, kind=kind, points=points, remaining=points,
                        expires_on=expires_on, reason=reason, sale_id=getattr(sale, "id", None),
                        refund_id=getattr(refund, "id", None), store_id=getattr(store, "id", None),
                        actor_user_id=getattr(user, "id", None), actor=_actor_name(user, actor), source_key=key,
                        data=data or {}, created_at=utcnow())
    session.add(entry)
    member.points_balance += points
    session.flush()
    return entry


def _debit(session, member: Member, kind: str, points: int, *, reason="", key=None, sale=None, refund=None,
           store=None, user=None, actor="system", data=None, prefer_lot: int | None = None) -> PointsEntry:
    """Take `points` (> 0) from the lots, soonest-expiring first (`prefer_lot` first of all).
    Never below zero: the caller checks the balance."""
    if points > member.points_balance:
        raise Unprocessable(f"only {member.points_balance} points available",
                            fields={"points": [f"The balance is {member.points_balance} points."]},
                            details={"balance": member.points_balance})
    lots = list(session.scalars(
        select(PointsEntry)
        .where(PointsEntry.customer_id == member.customer_id, PointsEntry.remaining > 0)
        .order_by((PointsEntry.id != (prefer_lot or 0)), PointsEntry.expires_on.is_(None), PointsEntry.expires_on,
                  PointsEntry.id)
    ))
    left = points
    drawn = []
    for lot in lots:
        take = min(left, lot.remaining)
        lot.remaining -= take
        drawn.append([lot.id, take])
        left -= take
        if left == 0:
            break
    entry = PointsEntry(customer_id=member.customer_id, kind=kind, points=-points, remaining=0, reason=reason,
                        sale_id=getattr(sale, "id", None), refund_id=getattr(refund, "id", None),
                        store_id=getattr(store, "id", None), actor_user_id=getattr(user, "id", None),
                        actor=_actor_name(user, actor), source_key=key, data={**(data or {}), "lots": drawn},
                        created_at=utcnow())
    session.add(entry)
    member.points_balance -= points
    session.flush()
    return entry


def _actor_name(user, actor) -> str:
    return getattr(user, "username", None) or str(actor or "system")[:100]


def ledger_balance(session, customer_id: int) -> int:
    """The balance as the sum of the ledger (the truth the cached balance must equal)."""
    return int(session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                              .where(PointsEntry.customer_id == customer_id)))


# --- tier changes -------------------------------------------------------------------------------------

def change_tier(session, member: Member, new: Tier | None, *, reason: str, store=None, user=None, notify=None,
                occurred_at: datetime | None = None, sale: Sale | None = None) -> dict | None:
    """Move `member` to `new`, write it on the customer's timeline and ask for a notification.
    A first tier is an enrolment, credited to `sale`'s store and salesperson when a sale reached
    it, else to `store` and the signed-in `user` who enrolled them (none for a job)."""
    old = member.tier
    if (old.id if old else None) == (new.id if new else None):
        return None
    tiers = active_tiers(session)
    direction = "upgrade" if rank(tiers, new) > rank(tiers, old) else "downgrade"
    now = occurred_at or utcnow()
    member.tier = new
    member.tier_id = new.id if new else None
    member.tier_since = now
    if old is None and new is not None and member.enrolled_at is None:
        member.enrolled_at = now
        member.enrolled_by = member.enrolled_by or "spend"
        if sale is not None:
            member.enrolled_sale_id, member.enrolled_store_id, member.enrolled_staff_id = sale.id, sale.store_id, sale.staff_id
        else:
            member.enrolled_store_id, member.enrolled_staff_id = getattr(store, "id", None), getattr(user, "id", None)
    change = {"from": old.code if old else None, "to": new.code if new else None, "direction": direction,
              "reason": reason}
    session.flush()
    if notify is not None and new is not None:
        change["notified"] = bool(notify(member.customer, f"membership.{direction}" if old else "membership.welcome",
                                         {"tier": new.code, "tier_name": new.name,
                                          "previous_tier": old.code if old else None}))
    session.add(Activity(customer_id=member.customer_id, store_id=getattr(store, "id", None), kind="tier_change",
                         source=SOURCE, title=f"{old.name if old else '—'} → {new.name if new else '—'}",
                         body=reason, data=dict(change), actor_user_id=getattr(user, "id", None), occurred_at=now))
    session.flush()
    return change


# --- sales ------------------------------------------------------------------------------------------

def points_used(sale: Sale, program: Program) -> int:
    """Points this sale takes: our `points` adjustment (computed by `quote` in the sale's own
    transaction: the core never keeps a till's figure) and `points` payments, each costing what
    its amount is worth at the program's rate, whatever points the till wrote beside it."""
    used = 0
    for adj in sale.adjustments:
        if adj.source == SOURCE and adj.code == "points":
            used += max(_int((adj.data or {}).get("points")), points_worth(-adj.amount, program))
    for pay in sale.payments:
        if pay.method == "points":
            used += points_worth(pay.amount, program)
    return used


def points_worth(amount: Decimal, program: Program) -> int:
    """Points that `amount` yuan costs, rounded up: a part of a point is a whole one."""
    return int((Decimal(amount) * program.points_per_yuan_redeemed).to_integral_value(rounding=ROUND_CEILING))


def paid_amount(sale: Sale) -> Decimal:
    """What the customer really paid: after every discount, not counting points used as payment."""
    return max(sale.total - sale.paid_with("points"), ZERO)


def _line_shares(sale: Sale, points: int) -> dict[str, int]:
    """Spread a sale's points over its lines by what was paid for each (the last takes the rest),
    so a refund of some lines takes back exactly what those lines earned."""
    return _spread_over_lines(sale, points, [max(line.net_amount, ZERO) for line in sale.lines])


def _spread_over_lines(sale: Sale, points: int, weights: list[Decimal]) -> dict[str, int]:
    """`points` split over the sale's lines in proportion to `weights`, rounded down, with the
    last line taking the remainder so the shares always add up to `points`."""
    if not sale.lines:
        return {}
    total = sum(weights, ZERO)
    shares, given = {}, 0
    for line, weight in zip(sale.lines[:-1], weights[:-1]):
        share = whole_points(points * weight / total) if total else 0
        shares[str(line.id)] = share
        given += share
    shares[str(sale.lines[-1].id)] = points - given
    return shares


def sale_multiplier(session, program: Program, sale: Sale, customer: Customer, store_id: int, day: date) -> tuple[Decimal, list[str]]:
    """Double points on the member's birthday (seed 002) and member-day multipliers: the
    highest one applies, they do not stack."""
    candidates = [(Decimal("1"), None)]
    if is_birthday(customer, day):
        candidates.append((program.birthday_points_multiplier, "birthday"))
    for md in member_days_on(session, store_id, day):
        candidates.append((md.points_multiplier, f"member_day:{md.id}"))
    best = max(candidates, key=lambda c: c[0])
    return best[0], [best[1]] if best[1] else []


def applied(session, sale: Sale) -> bool:
    """Whether `sale_recorded` was already applied to `sale` (its earn entry or its spend), in one query."""
    earned = sa.exists().where(PointsEntry.source_key == f"earn:sale:{sale.id}")
    counted = sa.exists().where(Spend.source_key == f"sale:{sale.id}")
    return bool(session.scalar(select(sa.or_(earned, counted))))


def record_sale(session, sale: Sale, store, *, user=None, actor="system", notify=None) -> dict | None:
    """`sale_recorded`: count the spend, upgrade on a crossing, redeem points the till used, earn.

    Returns what happened, or None for a walk-in or an event already applied."""
    if sale.customer_id is None:
        return None
    program = get_program(session)
    member = lock_member(session, sale.customer_id)
    if applied(session, sale):
        return None  # already applied: a redelivered event changes nothing
    customer = session.get(Customer, sale.customer_id)
    paid = paid_amount(sale)
    # Read before this sale's spend is added (it counts in any window: it happens now), so
    # the spend and the member's new totals are written together with the ledger entry.
    tiers, spend = tiers_and_counted_spend(session, program, member.customer_id, sale.occurred_at)
    spend += paid
    _add_spend(session, member, paid, sale.occurred_at, sale.id, f"sale:{sale.id}", checked=True, flush=False)

    used = points_used(sale, program)
    if used:
        _debit(session, member, "redeem", used, reason="points used as payment", key=f"redeem:sale:{sale.id}",
               sale=sale, store=store, user=user, actor=actor)

    change = None
    if not member.tier_locked:
        qualified = tier_for_spend(tiers, spend)
        if rank(tiers, qualified) > rank(tiers, member.tier):
            # The crossing sale already earns at the new tier's rate.
            change = change_tier(session, member, qualified, reason=f"spend reached ¥{qualified.threshold}",
                                 store=store, user=user, notify=notify, occurred_at=sale.occurred_at, sale=sale)
    if not member.is_member:
        _remember_summary(session, sale, member, earned=0, redeemed=used, upgraded=False)
        return {"member": False}
    day = local_date(sale.occurred_at, store.timezone if store is not None else program.timezone)
    with session.no_autoflush:  # member days do not depend on the pending spend: flushed with the entry below
        multiplier, why = sale_multiplier(session, program, sale, customer, getattr(store, "id", None), day)
    points = whole_points(paid * member.tier.points_rate * multiplier)
    data = {"tier": member.tier.code, "rate": str(member.tier.points_rate), "multiplier": str(multiplier),
            "paid": str(paid), "lines": _line_shares(sale, points), "upgraded": bool(change and change["direction"] == "upgrade"),
            "bonus": why}
    if change:
        data["previous_tier"] = change["from"]
    _credit(session, member, "earn", points, expires_on=expiry_for(program, day), reason="sale",
            key=f"earn:sale:{sale.id}", sale=sale, store=store, user=user, actor=actor, data=data)
    _remember_summary(session, sale, member, earned=points, redeemed=used, upgraded=data["upgraded"])
    return {"member": True, "points_earned": points, "tier_change": change}


SUMMARIES = "membership.sale_summaries"


def _remember_summary(session, sale: Sale, member: Member, *, earned: int, redeemed: int, upgraded: bool) -> None:
    """What `sale_summary` would read back, kept on the session for the till's answer (which
    comes right after the commit), so the answer does not query what this sale just wrote."""
    # Only the latest sale's: the answer asks right after it, and a long-lived session (an
    # offline batch, an import with events) must not collect one entry per sale.
    session.info[SUMMARIES] = {sale.id: (sale, {
        "member": bool(member.is_member), "points_earned": earned, "points_redeemed": redeemed,
        "points_reversed": 0, "points_returned": 0, "balance": member.points_balance,
        "tier": member.tier.code if member.tier else None, "upgraded": bool(upgraded),
    })}


def record_refund(session, sale: Sale, refund, store, *, user=None, actor="system", notify=None) -> dict | None:
    """`sale_refunded`: take back exactly what the refunded lines earned, give back the points
    they were paid with, uncount their spend, and downgrade at once if the program says so."""
    if sale.customer_id is None:
        return None
    program = get_program(session)
    member = lock_member(session, sale.customer_id)
    if session.scalars(select(Spend.id).where(Spend.source_key == f"refund:{refund.id}")).first():
        return None
    fraction_paid = (paid_amount(sale) / sale.total) if sale.total else Decimal(0)
    spend_back = (refund.amount * fraction_paid).quantize(CENT)
    # Dated at the sale, so the refund leaves the same 12-month window as the purchase.
    _add_spend(session, member, -spend_back, sale.occurred_at, sale.id, f"refund:{refund.id}")

    # Points paid for the refunded goods come back first, so the reversal below rarely finds
    # the balance short.
    returned_points = 0
    redeemed = entry_exists(session, f"redeem:sale:{sale.id}")
    if redeemed is not None:
        back, lines = _owed_for_refund(session, sale, refund, redeemed, "restore")
        if back:
            day = local_date(utcnow(), program.timezone)
            _credit(session, member, "reverse", back, expires_on=expiry_for(program, day),
                    reason="points paid for refunded goods", key=f"restore:refund:{refund.id}", sale=sale,
                    refund=refund, store=store, user=user, actor=actor, data={"lines": lines})
            returned_points = back

    reversed_points = 0
    earn = entry_exists(session, f"earn:sale:{sale.id}")
    if earn is not None and earn.points:
        owed, lines = _owed_for_refund(session, sale, refund, earn, "reverse")
        if owed:
            take = min(owed, member.points_balance)  # never below zero, even if they were spent meanwhile
            _debit(session, member, "reverse", take, reason="refund", key=f"reverse:refund:{refund.id}",
                   sale=sale, refund=refund, store=store, user=user, actor=actor,
                   data={"lines": lines, "owed": owed, "unrecovered": owed - take}, prefer_lot=earn.id)
            reversed_points = take
    change = None
    if member.is_member and not member.tier_locked and program.refund_downgrade == "immediate":
        tiers = active_tiers(session)
        qualified = tier_for_spend(tiers, counted_spend(session, program, member.customer_id, utcnow())) or tiers[0]
        if rank(tiers, qualified) < rank(tiers, member.tier):
            change = change_tier(session, member, qualified, reason="refund: spend below the threshold",
                                 store=store, user=user, notify=notify)
    return {"points_reversed": reversed_points, "points_returned": returned_points, "tier_change": change}


def _owed_for_refund(session, sale: Sale, refund, original: PointsEntry, kind: str) -> tuple[int, dict]:
    """How many of `original`'s points belong to the refunded part (all that is left when the
    sale is now fully refunded, so rounding never leaves points behind)."""
    total = abs(original.points)
    prior = session.scalars(select(PointsEntry).where(
        PointsEntry.sale_id == sale.id, PointsEntry.refund_id.is_not(None), PointsEntry.refund_id != refund.id,
        PointsEntry.source_key.like(f"{kind}:refund:%"))).all()
    if not sale.lines:
        done = sum(abs(p.data.get("owed", p.points)) for p in prior)
        if sale.refunded_total >= sale.total:
            return total - done, {}
        return whole_points(total * refund.amount / sale.total) if sale.total else 0, {}
    if kind == "restore":
        # Points paid for the sale, spread over its lines like the money they replaced.
        shares = _line_shares_by_amount(sale, total)
    else:
        shares = original.data.get("lines") or {}
    done_by_line: dict[str, int] = {}
    for p in prior:
        for line_id, n in (p.data.get("lines") or {}).items():
            done_by_line[line_id] = done_by_line.get(line_id, 0) + n
    lines = {}
    for rl in refund.lines:
        key = str(rl.sale_line_id)
        earned = int(shares.get(key, 0))
        line = rl.sale_line
        if line.refunded_quantity >= line.quantity:
            n = earned - done_by_line.get(key, 0) - lines.get(key, 0)
        else:
            n = whole_points(earned * rl.quantity / line.quantity)
        lines[key] = lines.get(key, 0) + max(n, 0)
    return sum(lines.values()), lines


def _line_shares_by_amount(sale: Sale, points: int) -> dict[str, int]:
    return _spread_over_lines(sale, points, [line.amount for line in sale.lines])


def sale_summary(session, sale: Sale) -> dict | None:
    """What the till's answer shows: points earned, balance, tier, whether this sale upgraded."""
    if sale.customer_id is None:
        return None
    # Kept by `record_sale` in this session for this very sale object: read once, then gone
    # (a later answer, e.g. after a refund, reads the ledger again). A rolled-back sale's
    # object is never the one asked about, even when its id is reused.
    remembered = session.info.get(SUMMARIES, {}).pop(sale.id, None)
    if remembered is not None and remembered[0] is sale:
        return dict(remembered[1])
    member = find_member(session, sale.customer_id)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.sale_id == sale.id).order_by(PointsEntry.id)).all()
    earn = next((e for e in entries if e.kind == "earn"), None)
    if earn is None and session.scalars(select(Spend.id).where(Spend.source_key == f"sale:{sale.id}")).first() is None:
        problem = _failed_delivery(session, sale)
        if problem is not None:
            # The till must not read "0 points" when the points were simply not booked yet.
            return {"member": bool(member and member.is_member), "error": problem,
                    "balance": member.points_balance if member else 0,
                    "tier": member.tier.code if member and member.tier else None}
    return {
        "member": bool(member and member.is_member),
        "points_earned": earn.points if earn else 0,
        "points_redeemed": -sum(e.points for e in entries if e.kind == "redeem"),
        "points_reversed": -sum(e.points for e in entries if e.kind == "reverse" and e.points < 0),
        "points_returned": sum(e.points for e in entries if e.kind == "reverse" and e.points > 0),
        "balance": member.points_balance if member else 0,
        "tier": member.tier.code if member and member.tier else None,
        "upgraded": bool(earn and earn.data.get("upgraded")),
    }


def _failed_delivery(session, sale: Sale) -> str | None:
    from core.models import Event, EventDelivery

    row = session.execute(
        select(EventDelivery.status, EventDelivery.last_error).join(Event, Event.id == EventDelivery.event_id)
        .where(Event.name == "sale_recorded", Event.subject_id == sale.id, EventDelivery.plugin == SOURCE)
    ).first()
    if row is None or row.status not in ("failed", "dead"):
        return None
    last = (row.last_error or "").strip().splitlines()
    return f"points not booked yet ({row.status}): {last[-1] if last else 'unknown error'}"


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
    member = session.scalars(_locked_member(customer.id)).first()
    if member is None or not member.is_member:
        return []
    program = get_program(session)
    tier = member.tier
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
        for md in member_days_on(session, store.id, day):
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
    requested = (cart.get("options") or {}).get("redeem_points")
    if requested and settings.get("redemption_enabled", True):
        ticket = subtotal - discount
        rate = program.points_per_yuan_redeemed
        cap = cents_down(ticket * program.redeem_max_percent / 100)
        most = min(member.points_balance, whole_points(cap * rate))
        points = most if requested == "max" else min(_int(requested), most)
        if points > 0:
            amount = cents_down(Decimal(points) / rate)
            adjustments.append({"source": SOURCE, "code": "points", "label": LABELS["points"], "amount": -amount,
                                "data": {"points": points, "balance": member.points_balance, "max_points": most}})
    return adjustments


LABELS = {"birthday": "Birthday discount / 生日优惠", "member_day": "Member day / 会员日",
          "member_price": "Member price / 会员价", "points": "Points / 积分抵现"}


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def birthday_discount_used(session, customer_id: int, program: Program, now: datetime) -> bool:
    """Once per birthday: a sale with the birthday discount within this birthday week."""
    since = now - timedelta(days=2 * program.birthday_window_days + 1)
    return session.scalars(
        select(SaleAdjustment.id).join(Sale, Sale.id == SaleAdjustment.sale_id)
        .where(Sale.customer_id == customer_id, Sale.occurred_at >= since, SaleAdjustment.source == SOURCE,
               SaleAdjustment.code == "birthday").limit(1)
    ).first() is not None


# --- manual actions ---------------------------------------------------------------------------------

def adjust_points(session, customer: Customer, points: int, reason: str, *, store=None, user=None,
                  actor="system") -> PointsEntry:
    """A manager's correction, with its reason, audited. Never below zero (422)."""
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required", fields={"reason": ["Say why the points change."]})
    if points == 0:
        raise InvalidInput("an adjustment changes points", fields={"points": ["Must not be 0."]})
    program = get_program(session)
    member = lock_member(session, customer.id)
    if points > 0:
        entry = _credit(session, member, "adjust", points, expires_on=expiry_for(program, local_date(utcnow(), program.timezone)),
                        reason=reason.strip(), store=store, user=user, actor=actor)
    else:
        entry = _debit(session, member, "adjust", -points, reason=reason.strip(), store=store, user=user, actor=actor)
    audit("membership_points_adjusted", actor=user or actor, target=("customer", customer.id), store=store,
          session=session, details={"points": points, "reason": reason.strip(), "balance": member.points_balance})
    return entry


def redeem_points(session, customer: Customer, points: int, reason: str, *, store=None, user=None,
                  actor="system") -> PointsEntry:
    """Spend points on a gift (or anything but a sale); beyond the balance is a 422."""
    if points <= 0:
        raise InvalidInput("redeem a positive number of points", fields={"points": ["Must be more than 0."]})
    member = lock_member(session, customer.id)
    if not member.is_member:
        raise Unprocessable("only members redeem points", fields={"customer_id": ["Not a member."]})
    return _debit(session, member, "redeem", points, reason=(reason or "gift").strip(), store=store, user=user,
                  actor=actor)


def enrol(session, customer: Customer, *, store=None, user=None, actor="system", notify=None) -> Member:
    """Make `customer` a member by hand, at the first tier (a member already stays as they are)."""
    member = lock_member(session, customer.id)
    if member.is_member:
        return member
    tiers = active_tiers(session)
    if not tiers:
        raise Unprocessable("the program has no tiers yet", fields={"tiers": ["Create a tier first."]})
    member.enrolled_by = "manual"
    member.enrolled_at = utcnow()
    member.enrolled_store_id, member.enrolled_staff_id = getattr(store, "id", None), getattr(user, "id", None)
    change_tier(session, member, tiers[0], reason="enrolled by hand", store=store, user=user, notify=notify)
    audit("membership_enrolled", actor=user or actor, target=("customer", customer.id), store=store, session=session)
    return member


def set_tier_lock(session, customer: Customer, locked: bool, tier_code: str | None = None, *, store=None, user=None,
                  actor="system", notify=None) -> Member:
    """A manager pins a member's tier (optionally setting it): no automatic change while locked."""
    member = lock_member(session, customer.id)
    if tier_code:
        change_tier(session, member, get_tier(session, tier_code), reason="set by a manager", store=store, user=user,
                    notify=notify)
    elif locked and not member.is_member:
        raise Unprocessable("lock which tier? the customer is not a member", fields={"tier": ["Give a tier."]})
    member.tier_locked = locked
    audit("membership_tier_lock", actor=user or actor, target=("customer", customer.id), store=store, session=session,
          details={"locked": locked, "tier": member.tier.code if member.tier else None})
    session.flush()
    return member


# --- scheduled work ----------------------------------------------------------------------------------

def expire_points(session, today: date | None = None, batch: int = 500) -> int:
    """Expire every lot whose date has passed: one `expire` entry per lot. Set-based per batch
    of members, each batch under those members' row locks. Returns points expired."""
    program = get_program(session)
    today = today or local_date(utcnow(), program.timezone)
    total = 0
    while True:
        due = (PointsEntry.remaining > 0) & (PointsEntry.expires_on < today)
        ids = list(session.scalars(select(PointsEntry.customer_id).where(due).distinct().limit(batch)))
        if not ids:
            break
        # Locked in id order, as merge does, so two lockers of several members cannot deadlock.
        session.scalars(select(Member.customer_id).where(Member.customer_id.in_(ids))
                        .order_by(Member.customer_id).with_for_update()).all()
        lots = select(PointsEntry.id).where(due, PointsEntry.customer_id.in_(ids))
        now = utcnow()
        session.execute(sa.insert(PointsEntry).from_select(
            ["customer_id", "kind", "points", "remaining", "reason", "actor", "source_key", "data", "created_at"],
            select(PointsEntry.customer_id, sa.literal("expire"), -PointsEntry.remaining, sa.literal(0),
                   sa.literal("expired"), sa.literal("system"),
                   sa.literal("expire:lot:") + sa.cast(PointsEntry.id, sa.String),
                   sa.literal({}, PointsEntry.data.type), sa.literal(now, PointsEntry.created_at.type))
            .where(due, PointsEntry.customer_id.in_(ids))))
        expired_per_member = (select(func.coalesce(func.sum(PointsEntry.remaining), 0))
                              .where(due, PointsEntry.customer_id == Member.customer_id).scalar_subquery())
        total += int(session.scalar(select(func.coalesce(func.sum(PointsEntry.remaining), 0))
                                    .where(PointsEntry.id.in_(lots))))
        session.execute(sa.update(Member).where(Member.customer_id.in_(ids))
                        .values(points_balance=Member.points_balance - expired_per_member)
                        .execution_options(synchronize_session=False))
        session.execute(sa.update(PointsEntry).where(PointsEntry.id.in_(lots.scalar_subquery()))
                        .values(remaining=0).execution_options(synchronize_session=False))
        session.commit()
    return total


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
    spend = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == Member.customer_id)
    if program.qualification == "rolling_12m":
        spend = spend.where(Spend.occurred_at >= now - timedelta(days=365))
    # Two levels down, the spend still belongs to the outer query's member: say so explicitly.
    spend = spend.correlate(Member).scalar_subquery()
    qualified = (select(Tier.id).where(Tier.active.is_(True), Tier.threshold <= spend)
                 .order_by(Tier.threshold.desc()).limit(1).correlate(Member).scalar_subquery())
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
    from core.models import Refund, SalePayment, Store, StorePlugin

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
    session.execute(sa.update(Member).values(lifetime_spend=total.scalar_subquery())
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
    spend = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == Member.customer_id)
    if program.qualification == "rolling_12m":
        spend = spend.where(Spend.occurred_at >= now - timedelta(days=365))
    spend = spend.correlate(Member).scalar_subquery()
    qualified = (select(Tier.id).where(Tier.active.is_(True), Tier.threshold <= spend)
                 .order_by(Tier.threshold.desc()).limit(1).correlate(Member).scalar_subquery())
    current = select(Tier.threshold).where(Tier.id == Member.tier_id).correlate(Member).scalar_subquery()
    best = select(Tier.threshold).where(Tier.id == qualified).correlate(Member).scalar_subquery()
    rows = session.execute(select(Member.customer_id, qualified).where(
        Member.tier_locked.is_(False), qualified.is_not(None), sa.or_(Member.tier_id.is_(None), best > current))).all()
    by_id = {t.id: t for t in tiers}
    for customer_id, tier_id in rows:
        member = lock_member(session, customer_id)
        change_tier(session, member, by_id[tier_id], reason="purchase history counted", occurred_at=now)
    return len(rows)


# --- reading ---------------------------------------------------------------------------------------

def member_view(session, customer: Customer, ledger_limit: int = 50) -> dict:
    member = find_member(session, customer.id)
    program = get_program(session)
    entries = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer.id)
                              .order_by(PointsEntry.id.desc()).limit(ledger_limit)).all()
    tiers = active_tiers(session)
    spend = counted_spend(session, program, customer.id, utcnow())
    current = member.tier if member else None
    higher = [t for t in tiers if rank(tiers, t) > rank(tiers, current)]
    return {
        "customer_id": customer.id,
        "member": bool(member and member.is_member),
        "tier": _tier_brief(current),
        "tier_locked": bool(member and member.tier_locked),
        "enrolled_at": member.enrolled_at if member else None,
        "enrolled_by": member.enrolled_by if member else None,
        "points_balance": member.points_balance if member else 0,
        "lifetime_spend": member.lifetime_spend if member else ZERO,
        "qualifying_spend": spend,
        "qualification": program.qualification,
        "next_tier": _tier_brief(higher[0]) if higher else None,
        "spend_to_next_tier": max(higher[0].threshold - spend, ZERO) if higher else None,
        "expiring": _expiring(session, customer.id),
        "ledger": entries,
    }


def _tier_brief(tier: Tier | None) -> dict | None:
    return None if tier is None else {"code": tier.code, "name": tier.name, "threshold": tier.threshold,
                                      "points_rate": tier.points_rate,
                                      "birthday_discount_percent": tier.birthday_discount_percent, "perks": tier.perks}


def _expiring(session, customer_id: int) -> list[dict]:
    rows = session.execute(select(PointsEntry.expires_on, func.sum(PointsEntry.remaining))
                           .where(PointsEntry.customer_id == customer_id, PointsEntry.remaining > 0)
                           .group_by(PointsEntry.expires_on).order_by(PointsEntry.expires_on)).all()
    return [{"expires_on": d, "points": int(n)} for d, n in rows]


def members_per_tier(session) -> list[tuple[Tier, int]]:
    rows = session.execute(select(Tier, func.count(Member.customer_id)).outerjoin(Member, Member.tier_id == Tier.id)
                           .group_by(Tier.id).order_by(Tier.threshold)).all()
    return [(t, int(n)) for t, n in rows]


def points_liability(session) -> tuple[int, Decimal]:
    """Outstanding points, and what they are worth in ¥ at the redemption rate."""
    program = get_program(session)
    points = int(session.scalar(select(func.coalesce(func.sum(Member.points_balance), 0))))
    return points, (Decimal(points) / program.points_per_yuan_redeemed).quantize(CENT)


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


# --- the sale check (before the core writes a sale) -----------------------------------------------

def check_points_cover_sale(session, sale: Sale, customer: Customer | None, settings=dict) -> None:
    """`sale_validate` (`settings`: a callable giving the store's settings): refuse (422) a sale
    that pays with more points than the member has, or
    with points beyond the program's cap (the part of the ticket points may pay, less what our
    points adjustment already took) or in a store that does not take points, before anything
    is written: otherwise the sale is kept and the points are money given away.
    The member row stays locked until the sale commits, so tills paying with the same points
    at once queue here and each sees what the previous one left."""
    by_payment = [p for p in sale.payments if p.method == "points"]
    by_adjustment = [a for a in sale.adjustments if a.source == SOURCE and a.code == "points"]
    if not (by_payment or by_adjustment):
        return  # the common sale: not one statement more
    program = get_program(session)
    if by_payment:
        paid = sum((p.amount for p in by_payment), ZERO)
        if not settings().get("redemption_enabled", True):  # read only here: the common sale reads nothing
            raise Unprocessable("this store does not take points", fields={"payments": [
                "Points are not taken as payment in this store."]})
        ticket = sale.subtotal + sum((a.amount for a in sale.adjustments if a not in by_adjustment), ZERO)
        most = cents_down(ticket * program.redeem_max_percent / 100) + sum((a.amount for a in by_adjustment), ZERO)
        if paid > most:
            raise Unprocessable("points pay more of the ticket than the program allows", fields={"payments": [
                f"Points may pay at most {max(most, ZERO)} of this sale ({program.redeem_max_percent.normalize():f}% "
                f"of {ticket}, less points already redeemed); {paid} was posted."]})
    used = points_used(sale, program)
    if used <= 0:
        return
    member = None
    if customer is not None and customer.id is not None:
        member = session.scalars(_locked_member(customer.id)).first()
    balance = member.points_balance if member is not None else 0
    if used > balance:
        message = f"The sale uses {used} points; the balance is {balance} points."
        fields = {}
        if by_payment:
            fields["payments"] = [message]
        if by_adjustment:
            fields["adjustments"] = [message]
        raise Unprocessable(f"only {balance} points available", fields=fields,
                            details={"balance": balance, "points": used})
