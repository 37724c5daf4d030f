"""The points ledger: lots credited and debited, manual corrections and redemptions, expiry."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy import func, select

from core.audit import audit
from core.errors import InvalidInput, Unprocessable
from core.models import Customer, utcnow
from plugins.membership.models import Member, PointsEntry
from plugins.membership.services.common import _actor_name, expiry_for, local_date, transaction_key
from plugins.membership.services.members import lock_member
from plugins.membership.services.program import get_program

# --- the ledger --------------------------------------------------------------------------------------
#
# Expiry is a fact of the date: a lot whose `expires_on` is before today (the program's time
# zone) counts for nothing, whether or not the daily job has written its `expire` entry yet.
# `points_balance` (and the ledger's sum) still hold such a lot until the job writes that
# entry; every reading that offers or spends points goes through `available_points`.

def program_today(program) -> date:
    return local_date(utcnow(), program.timezone)


def live_lot(today: date):
    """A lot that still has points to give: not spent, and not past its date."""
    return (PointsEntry.remaining > 0) & (PointsEntry.expires_on.is_(None) | (PointsEntry.expires_on >= today))


def expired_unwritten(customer_id, today: date):
    """Points of `customer_id` in lots past their date that the job has not expired yet (a
    scalar subquery: `customer_id` may be a column, so one query can ask it of many members)."""
    return (select(func.coalesce(func.sum(PointsEntry.remaining), 0))
            .where(PointsEntry.customer_id == customer_id, PointsEntry.remaining > 0, PointsEntry.expires_on < today)
            .scalar_subquery())


def available_points(session, member: Member | None, today: date) -> int:
    """What a member may spend today: the balance less lots past their date (one query, and
    only for a member who has points at all)."""
    if member is None or member.points_balance <= 0:
        return 0
    return member.points_balance - int(session.scalar(select(expired_unwritten(member.customer_id, today))))


LOCKED = "membership.locked_members"


def lock_with_available(session, customer_id: int, today: date, *, create: bool = True) -> tuple[Member | None, int]:
    """The member row locked FOR UPDATE (created when `create`), with what they may spend today."""
    return lock_for_till(session, customer_id, today, create=create)


def lock_for_till(session, customer_id: int, today: date, *, create: bool = True, remember: bool = False,
                  reuse: bool = False) -> tuple[Member | None, int]:
    """The member row locked FOR UPDATE and what they may spend today, in one statement (the
    lots past their date ride on the locking SELECT). The till's path asks twice in one
    transaction: the quote (`remember`), then the sale's reaction (`reuse`), which takes what
    the quote found once: the row is locked since, and nothing in between changes points (any
    credit or debit forgets it)."""
    key = (transaction_key(session), customer_id, today)
    if reuse:
        held = session.info.pop(LOCKED, None)
        if held is not None and held[0] == key:
            return held[1]
    row = session.execute(select(Member, expired_unwritten(Member.customer_id, today))
                          .where(Member.customer_id == customer_id).with_for_update(of=Member)
                          .execution_options(populate_existing=True)).first()
    if row is not None:
        found = (row[0], row[0].points_balance - int(row[1]))
    elif not create:
        return None, 0
    else:
        found = (lock_member(session, customer_id), 0)  # a new row has no lots
    if remember:
        session.info[LOCKED] = (key, found)
    return found


def till_lock(session, customer_id: int, *, create: bool, remember: bool = False, reuse: bool = False):
    """(member, available today, current configuration, today) for the till's path: one
    statement when the process's cached configuration is current (the usual case)."""
    from plugins.membership.services import config as configuration

    config = configuration.current(session)
    today = local_date(utcnow(), config.program.timezone)
    member, available = lock_for_till(session, customer_id, today, create=create, remember=remember, reuse=reuse)
    return member, available, config, today


def not_enough_points(balance: int, wanted: int, field: str = "points") -> Unprocessable:
    return Unprocessable(f"only {balance} points available",
                         fields={field: [f"The balance is {balance} points; {wanted} were asked for."]},
                         details={"balance": balance, "points": wanted})


def entry_exists(session, key: str) -> PointsEntry | None:
    return session.scalars(select(PointsEntry).where(PointsEntry.source_key == key)).first()


def _credit(session, member: Member, kind: str, points: int, *, expires_on, reason="", key=None, sale=None,
            refund=None, store=None, user=None, actor="system", data=None, lot: bool = True) -> PointsEntry:
    """Add `points` to the balance: a new lot (`remaining` = points, dated `expires_on`), or with
    `lot=False` an entry whose points the caller put back into existing lots."""
    session.info.pop(LOCKED, None)
    entry = PointsEntry(customer_id=member.customer_id, kind=kind, points=points, remaining=points if lot else 0,
                        expires_on=expires_on, reason=reason, sale_id=getattr(sale, "id", None),
                        refund_id=getattr(refund, "id", None), store_id=getattr(store, "id", None),
                        actor_user_id=getattr(user, "id", None), actor=_actor_name(user, actor), source_key=key,
                        data=data or {}, created_at=utcnow())
    session.add(entry)
    member.points_balance += points
    session.flush()
    return entry


def _debit(session, member: Member, kind: str, points: int, *, reason="", key=None, sale=None, refund=None,
           store=None, user=None, actor="system", data=None, prefer_lot: int | None = None,
           today: date | None = None, available: int | None = None) -> PointsEntry:
    """Take `points` (> 0) from the lots still valid `today`, soonest-expiring first
    (`prefer_lot` first of all). Never beyond what is available (422 naming the balance);
    `available`: the caller already read it under the member's lock."""
    session.info.pop(LOCKED, None)
    today = today or program_today(get_program(session))
    if available is None:
        available = available_points(session, member, today)
    if points > available:
        raise not_enough_points(available, points)
    lots = list(session.scalars(
        select(PointsEntry)
        .where(PointsEntry.customer_id == member.customer_id, live_lot(today))
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


def give_back_to_lots(session, member: Member, drawn, points: int, today: date, *, key: str, reason: str,
                      already: dict[int, int] | None = None, sale=None, refund=None, store=None, user=None,
                      actor="system", data=None) -> tuple[PointsEntry, int, int, int]:
    """Give `points` of a debit back to the lots it drew them from (`drawn`: its [lot id,
    points] pairs, soonest-expiring first), the latest-expiring first, each lot keeping its own
    date, less what `already` gave back of each lot. Points of a lot past its date `today` are
    gone: counted as expired, not given back. Writes the `reverse` entry `key` (its `lots` name
    every lot drawn upon, `expired` the points gone) and returns (that entry, points given
    back, points gone, points of `points` the lots do not account for)."""
    drawn = [(int(lot_id), int(n)) for lot_id, n in drawn or []]
    already = already or {}
    lots = {lot.id: lot for lot in session.scalars(select(PointsEntry).where(
        PointsEntry.id.in_([lot_id for lot_id, _n in drawn])))} if drawn else {}
    left, live, gone, given = points, 0, 0, []
    for lot_id, taken in reversed(drawn):
        n = min(taken - already.get(lot_id, 0), left)
        if n <= 0:
            continue
        lot = lots.get(lot_id)
        if lot is None or (lot.expires_on is not None and lot.expires_on < today):
            gone += n
        else:
            lot.remaining += n
            live += n
        given.append([lot_id, n])
        left -= n
        if left == 0:
            break
    entry = _credit(session, member, "reverse", live, expires_on=None, reason=reason, key=key, sale=sale,
                    refund=refund, store=store, user=user, actor=actor,
                    data={**(data or {}), "lots": given, "expired": gone}, lot=False)
    return entry, live, gone, left


def ledger_balance(session, customer_id: int) -> int:
    """The balance as the sum of the ledger (the truth the cached balance must equal)."""
    return int(session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                              .where(PointsEntry.customer_id == customer_id)))


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
        entry = _credit(session, member, "adjust", points, expires_on=expiry_for(program, program_today(program)),
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


# --- scheduled work ----------------------------------------------------------------------------------

def expire_points(session, today: date | None = None, batch: int = 500) -> int:
    """Expire every lot whose date has passed: one `expire` entry per lot, carrying the lot's
    date. Set-based per batch of members, each batch under those members' row locks. It writes
    from the dates alone, so a run after days of downtime catches up on all of them (and a
    second run finds nothing). Returns points expired."""
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
            ["customer_id", "kind", "points", "remaining", "expires_on", "reason", "actor", "source_key", "data",
             "created_at"],
            select(PointsEntry.customer_id, sa.literal("expire"), -PointsEntry.remaining, sa.literal(0),
                   PointsEntry.expires_on,
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
