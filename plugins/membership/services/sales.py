"""A sale's effect on membership: spend, points earned and used, the till's summary and check."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa
from sqlalchemy import select

from core.errors import Unprocessable
from core.models import Activity, Customer, Sale, utcnow
from core.models.prepared import Prepared
from core.models.types import insert_for
from plugins.membership.models import Member, PointsEntry, Program, Spend, Tier
from plugins.membership.services import config as configuration
from plugins.membership.services.common import (SOURCE, ZERO, _actor_name, _int, cents_down, expiry_for, is_birthday,
                                                local_date, transaction_key, whole_points)
from plugins.membership.services.ledger import (LOCKED, _credit, _debit, available_points, expired_unwritten,
                                                lock_with_available, program_today, till_lock)
from plugins.membership.services.members import (_add_spend, change_tier, find_member, reached_because,
                                                 tier_change_title, tiers_and_counts)
from plugins.membership.services.program import get_program, member_days_on, rank, tier_for

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


def sale_multiplier(session, program: Program, sale: Sale, customer: Customer, store_id: int, day: date,
                    settings=None, *, member_days=None) -> tuple[Decimal, list[str]]:
    """Double points on the member's birthday (seed 002) and member-day multipliers: the
    highest one applies, they do not stack. A store whose settings switch member days
    (`member_days_enabled`) or birthday points (`birthday_points_enabled`) off gets none of them.
    `settings`: a dict, or a callable giving it — read only on a day with a multiplier."""
    birthday = is_birthday(customer, day)
    days = member_days_on(session, store_id, day) if member_days is None else member_days
    if not birthday and not days:
        return Decimal("1"), []  # the usual day: the store's settings are not even read
    settings = (settings() if callable(settings) else settings) or {}
    candidates = [(Decimal("1"), None)]
    if birthday and settings.get("birthday_points_enabled", True):
        candidates.append((program.birthday_points_multiplier, "birthday"))
    if settings.get("member_days_enabled", True):
        for md in days:
            candidates.append((md.points_multiplier, f"member_day:{md.id}"))
    best = max(candidates, key=lambda c: c[0])
    return best[0], [best[1]] if best[1] else []


def applied(session, sale: Sale) -> bool:
    """Whether `sale_recorded` was already applied to `sale` (its earn entry or its spend), in one query."""
    earned = sa.exists().where(PointsEntry.source_key == f"earn:sale:{sale.id}")
    counted = sa.exists().where(Spend.source_key == f"sale:{sale.id}")
    return bool(session.scalar(select(sa.or_(earned, counted))))


def record_sale(session, sale: Sale, store, *, user=None, actor="system", settings=None) -> dict | None:
    """`sale_recorded`: count the spend, upgrade on a crossing, redeem points the till used, earn.
    `settings`: the store's membership settings, or a callable giving them (every path passes
    them: till, batch, import; read only on a day with a points multiplier).

    On the till's path this costs the writes alone (the spend row, the ledger entry, the
    member's totals): the member row was locked by the quote in this transaction, the
    configuration is the process's cached snapshot, lifetime spend and purchases are on the
    member row, and a sale checked by `sale_validate` in this transaction is new (not a
    redelivery). Returns what happened, or None for a walk-in or an event already applied."""
    if sale.customer_id is None:
        return None
    held = session.info.get(LOCKED)  # the quote locked the member in this transaction: its path
    if (held is None or held[0][0] != transaction_key(session)) and fresh_in_this_transaction(session, sale):
        done = record_sale_in_one_update(session, sale, store, user=user, actor=actor, settings=settings)
        if done is not None:
            return done
    member, available, config, today = till_lock(session, sale.customer_id, create=True, reuse=True)
    program = config.program
    if not fresh_in_this_transaction(session, sale) and applied(session, sale):
        return None  # already applied: a redelivered event changes nothing
    customer = session.get(Customer, sale.customer_id)
    paid = paid_amount(sale)
    tiers = list(config.tiers)
    # Before this sale's spend is added (it counts in any window: it happens now), so the
    # spend and the member's new totals are written together with the ledger entry.
    if program.qualification == "lifetime":
        spend, purchases = member.lifetime_spend or ZERO, member.purchase_count or 0
    else:
        _tiers, spend, purchases = tiers_and_counts(session, program, member.customer_id, sale.occurred_at)
    spend += paid
    purchases += 1 if paid > 0 else 0
    _add_spend(session, member, paid, sale.occurred_at, sale.id, f"sale:{sale.id}", checked=True, flush=False)
    if paid > 0:
        member.purchase_count = (member.purchase_count or 0) + 1

    used = points_used(sale, program)
    if used:
        _debit(session, member, "redeem", used, reason="points used as payment", key=f"redeem:sale:{sale.id}",
               sale=sale, store=store, user=user, actor=actor, available=available, today=today)
        available -= used

    change = None
    current = config.tier(member.tier_id) if member.tier_id else None
    if not member.tier_locked:
        qualified = tier_for(tiers, spend, purchases, program.qualify_by)
        if rank(tiers, qualified) > rank(tiers, current):
            # The crossing sale already earns at the new tier's rate.
            change = change_tier(session, member, session.get(Tier, qualified.id),
                                 reason=reached_because(qualified, spend), store=store, user=user,
                                 occurred_at=sale.occurred_at, sale=sale, key=f"sale:{sale.id}")
            current = qualified
    if not member.is_member:
        _remember_summary(session, sale, member, earned=0, redeemed=used, upgraded=False, balance=available, tier=None)
        return {"member": False}
    if current is None:  # a tier switched off since the member reached it: it still sets their rate
        current = member.tier
    day = local_date(sale.occurred_at, store.timezone if store is not None else program.timezone)
    multiplier, why = sale_multiplier(session, program, sale, customer, getattr(store, "id", None), day, settings,
                                      member_days=config.member_days_on(getattr(store, "id", None), day))
    points = whole_points(paid * current.points_rate * multiplier)
    data = {"tier": current.code, "rate": str(current.points_rate), "multiplier": str(multiplier),
            "paid": str(paid), "lines": _line_shares(sale, points), "upgraded": bool(change and change["direction"] == "upgrade"),
            "bonus": why}
    if change:
        data["previous_tier"] = change["from"]
    _credit(session, member, "earn", points, expires_on=expiry_for(program, day), reason="sale",
            key=f"earn:sale:{sale.id}", sale=sale, store=store, user=user, actor=actor, data=data)
    _remember_summary(session, sale, member, earned=points, redeemed=used, upgraded=data["upgraded"],
                      balance=available + points, tier=current.code)
    return {"member": True, "points_earned": points, "tier_change": change}


# --- the till's usual sale: one locking UPDATE ------------------------------------------------
#
# A till sale's effect on membership in one locking statement (issue 23).
#
# The usual sale to a returning customer changes three numbers on the member row: lifetime
# spend, purchases and the points balance. Here they change in one `UPDATE … RETURNING`: the
# UPDATE takes the row's lock (PostgreSQL's row lock; SQLite's write lock), adds the spend and
# the purchase, and adds the points of the member's tier (a CASE over the cached tiers' rates,
# computed here for this sale), and RETURNING gives back the member as it now is, the points
# in lots past their date. Then the spend row and the ledger
# entry are inserted: three statements for an earning sale, two for a customer below the first
# tier.
#
# Anything unusual falls back to `sales.record_sale`'s general path with the row already locked:
# a tier change at this sale, a tier switched off, points used, a
# rolling qualification window, a redelivery. The UPDATE's additions are then taken back on the
# loaded member (the general path adds them again; its flush writes the net values).

def record_sale_in_one_update(session, sale: Sale, store, *, user=None, actor="system", settings=None) -> dict | None:
    """What `record_sale` returns, or None when the general path must do it (the member row is
    then locked, and handed to it)."""
    config = configuration.current(session)  # checked against the core's configuration version
    program = config.program
    if program.qualification != "lifetime" or points_used(sale, program):
        return None
    store_id = getattr(store, "id", None)
    paid = paid_amount(sale)
    bought = 1 if paid > 0 else 0
    day = local_date(sale.occurred_at, store.timezone if store is not None else program.timezone)
    multiplier, why = sale_multiplier(session, program, sale, sale.customer, store_id, day, settings,
                                                   member_days=config.member_days_on(store_id, day))
    earn = {tier.id: whole_points(paid * tier.points_rate * multiplier) for tier in config.tiers}
    today = local_date(utcnow(), program.timezone)
    row = _update_member(session, config, sale.customer_id, paid, bought, earn, today)
    expired = int(row.m_expired)
    added = earn.get(row.tier_id, 0)
    current = config.tier(row.tier_id) if row.tier_id is not None else None
    tiers = list(config.tiers)
    qualified = tier_for(tiers, row.lifetime_spend, row.purchase_count, program.qualify_by)
    upgrades = not row.tier_locked and rank(tiers, qualified) > rank(tiers, current)
    if row.tier_id is not None and current is None:
        # A tier switched off since the member reached it. The row as the UPDATE left it
        # (locked by it), the UPDATE's additions taken back: the general path adds them again
        # under the lock it is handed. One more SELECT, rarely.
        member = session.get(Member, sale.customer_id, populate_existing=True)
        member.lifetime_spend -= paid
        member.purchase_count -= bought
        member.points_balance -= added
        session.info[LOCKED] = ((transaction_key(session), sale.customer_id, today),
                                (member, member.points_balance - expired))
        return None
    # A member row this session loaded before holds the old figures: read anew if used.
    loaded = session.identity_map.get(session.identity_key(Member, sale.customer_id))
    if loaded is not None:
        session.expire(loaded)
    change = None
    if upgrades:
        # The crossing sale earns at the new tier's rate: the UPDATE added the old tier's points.
        change = _cross_tier(session, sale, store, user, row, current, qualified, earn[qualified.id] - added)
        current, added = qualified, earn[qualified.id]
    SPEND_INSERT.execute(session, {"customer_id": row.customer_id, "amount": paid, "occurred_at": sale.occurred_at,
                                   "sale_id": sale.id, "source_key": f"sale:{sale.id}"})
    available = row.points_balance - expired
    if current is None:
        _remember_summary(session, sale, row, earned=0, redeemed=0, upgraded=False, balance=available, tier=None)
        return {"member": False}
    data = {"tier": current.code, "rate": str(current.points_rate), "multiplier": str(multiplier), "paid": str(paid),
            "lines": _line_shares(sale, added), "upgraded": change is not None, "bonus": why}
    if change is not None:
        data["previous_tier"] = change["from"]
        available += added - earn.get(row.tier_id, 0)
    EARN_INSERT.execute(session, {
        "customer_id": row.customer_id, "kind": "earn", "points": added, "remaining": added,
        "expires_on": expiry_for(program, day), "reason": "sale", "sale_id": sale.id, "refund_id": None,
        "store_id": store_id, "actor_user_id": getattr(user, "id", None), "actor": _actor_name(user, actor),
        "source_key": f"earn:sale:{sale.id}", "data": data, "created_at": utcnow()})
    _remember_summary(session, sale, row, earned=added, redeemed=0, upgraded=change is not None, balance=available,
                      tier=current.code)
    return {"member": True, "points_earned": added, "tier_change": change}


def _cross_tier(session, sale: Sale, store, user, row, old, new, more_points: int) -> dict:
    """The member (locked by the UPDATE) reached `new` at this sale: their tier, an enrolment
    at a first tier (credited to the sale's store and salesperson), the points the new rate
    adds, in one UPDATE; and the change on the customer's timeline, in one INSERT. The customer
    is told after the commit (`hooks.sale_recorded_follow_up`): the till's answer needs only
    the new tier."""
    values = {"tier_id": new.id, "tier_since": sale.occurred_at,
              "points_balance": Member.__table__.c.points_balance + more_points}
    if old is None and row.enrolled_at is None:
        values.update(enrolled_at=sale.occurred_at, enrolled_by=row.enrolled_by or "spend", enrolled_sale_id=sale.id,
                      enrolled_store_id=sale.store_id, enrolled_staff_id=sale.staff_id)
    session.connection().execute(sa.update(Member.__table__)
                                 .where(Member.__table__.c.customer_id == row.customer_id).values(**values))
    change = {"from": old.code if old else None, "to": new.code, "direction": "upgrade",
              "reason": reached_because(new, row.lifetime_spend), "key": f"sale:{sale.id}"}
    ACTIVITY_INSERT.execute(session, {
        "customer_id": row.customer_id, "store_id": getattr(store, "id", None), "kind": "tier_change",
        "source": SOURCE, "title": tier_change_title(old, new), "body": None, "data": dict(change),
        "actor_user_id": getattr(user, "id", None), "occurred_at": sale.occurred_at})
    return change


def _update_member(session, config, customer_id: int, paid, bought: int, earn: dict[int, int], today):
    """The one locking statement: the member row as updated, or inserted at a first purchase
    (with `m_expired`, the points in lots past their date)."""
    dialect = session.get_bind().dialect.name
    statement = config.statements.get(("update_member", dialect))
    if statement is None:  # built once per configuration: only its parameters change per sale
        statement = config.statements[("update_member", dialect)] = _update_member_statement(config, dialect)
    params = {"m_customer": customer_id, "m_paid": paid, "m_bought": bought, "m_today": today,
              **{f"m_earn_{tier_id}": points for tier_id, points in earn.items()}}
    # Core on the session's connection: the ORM's bulk path would rebuild the statement's cache
    # key on every sale, and nothing here needs an ORM object.
    return session.connection().execute(statement, params).one()


def _update_member_statement(config, dialect: str):
    """INSERT … ON CONFLICT (customer_id) DO UPDATE … RETURNING: a first purchase inserts the
    row (no tier yet: no points), every later one adds to it under the row's lock. Bind names
    are no column's (a column's name would be read as a value to write)."""
    table = Member.__table__
    customer = sa.bindparam("m_customer", type_=sa.Integer)
    paid = sa.bindparam("m_paid", type_=table.c.lifetime_spend.type)
    bought = sa.bindparam("m_bought", type_=sa.Integer)
    earn = {tier.id: sa.bindparam(f"m_earn_{tier.id}", type_=sa.Integer) for tier in config.tiers}
    points = sa.case(earn, value=table.c.tier_id, else_=0) if earn else 0
    # The other columns take their defaults (Member), as insert_member_row's rows do.
    statement = insert_for(dialect, table).values(customer_id=customer, lifetime_spend=paid, purchase_count=bought)
    return (statement.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={"lifetime_spend": sa.func.coalesce(table.c.lifetime_spend, 0) + paid,
                      "purchase_count": sa.func.coalesce(table.c.purchase_count, 0) + bought,
                      "points_balance": table.c.points_balance + points})
            .returning(*table.c, expired_unwritten(customer, sa.bindparam("m_today", type_=sa.Date)).label("m_expired")))


# Built once per database (core/models/prepared.py): an earning sale writes one of each.
SPEND_INSERT = Prepared(lambda dialect: sa.insert(Spend.__table__))
EARN_INSERT = Prepared(lambda dialect: sa.insert(PointsEntry.__table__))
ACTIVITY_INSERT = Prepared(lambda dialect: sa.insert(Activity.__table__))


VALIDATED = "membership.validated_sale"


def fresh_in_this_transaction(session, sale: Sale) -> bool:
    """Whether `sale` is the one `sale_validate` checked in this very transaction (then it was
    only just written, and no reaction to it can have been applied before)."""
    held = session.info.get(VALIDATED)
    return held is not None and held[0] == transaction_key(session) and held[1] is sale


SUMMARIES = "membership.sale_summaries"


def _remember_summary(session, sale: Sale, member: Member, *, earned: int, redeemed: int, upgraded: bool,
                      balance: int, tier: str | None, **more) -> None:
    """What `sale_summary` would read back, kept on the session for the till's answer (which
    comes right after the commit), so the answer does not query what this sale just wrote."""
    # Only the latest sale's: the answer asks right after it, and a long-lived session (an
    # offline batch, an import with events) must not collect one entry per sale.
    session.info[SUMMARIES] = {sale.id: (sale, {
        "member": tier is not None, "points_earned": earned, "points_redeemed": redeemed,
        "points_reversed": 0, "points_returned": 0, "balance": balance,
        "tier": tier, "upgraded": bool(upgraded), **more,
    })}


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
    balance = available_points(session, member, program_today(get_program(session)))
    entries = session.scalars(select(PointsEntry).where(PointsEntry.sale_id == sale.id).order_by(PointsEntry.id)).all()
    earn = next((e for e in entries if e.kind == "earn"), None)
    if earn is None and session.scalars(select(Spend.id).where(Spend.source_key == f"sale:{sale.id}")).first() is None:
        problem = _failed_delivery(session, sale)
        if problem is not None:
            # The till must not read "0 points" when the points were simply not booked yet.
            return {"member": bool(member and member.is_member), "error": problem,
                    "balance": balance,
                    "tier": member.tier.code if member and member.tier else None}
    return {
        "member": bool(member and member.is_member),
        "points_earned": earn.points if earn else 0,
        "points_redeemed": -sum(e.points for e in entries if e.kind == "redeem"),
        "points_reversed": -sum(e.points for e in entries if e.kind == "reverse" and e.points < 0),
        "points_returned": sum(e.points for e in entries if e.kind == "reverse" and e.points > 0),
        "balance": balance,
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


# --- the sale check (before the core writes a sale) -----------------------------------------------

def check_points_cover_sale(session, sale: Sale, customer: Customer | None, settings=dict) -> None:
    """`sale_validate` (`settings`: a callable giving the store's settings): refuse (422) a sale
    that pays with more points than the member has, or
    with points beyond the program's cap (the part of the ticket points may pay, less what our
    points adjustment already took) or in a store that does not take points, before anything
    is written: otherwise the sale is kept and the points are money given away.
    The member row stays locked until the sale commits, so tills paying with the same points
    at once queue here and each sees what the previous one left."""
    session.info[VALIDATED] = (transaction_key(session), sale)  # new: `record_sale` need not ask
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
    balance = 0
    if customer is not None and customer.id is not None:
        _member, balance = lock_with_available(session, customer.id, program_today(program), create=False)
    if used > balance:
        message = f"The sale uses {used} points; the balance is {balance} points."
        fields = {}
        if by_payment:
            fields["payments"] = [message]
        if by_adjustment:
            fields["adjustments"] = [message]
        raise Unprocessable(f"only {balance} points available", fields=fields,
                            details={"balance": balance, "points": used})
