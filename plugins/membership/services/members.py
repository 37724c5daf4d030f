"""Member rows: locking, counted spend, tier changes, enrolment and tier locks."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from core.audit import audit
from core.errors import Unprocessable
from core.models import Activity, Customer, Sale, utcnow
from core.models.prepared import Prepared
from core.models.types import insert_for
from core.webhooks import emit_event
from plugins.membership.models import Member, Program, Spend, Tier
from plugins.membership.services.common import CENT, SOURCE, ZERO
from plugins.membership.services.program import active_tiers, get_tier, rank, tier_for

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
    insert_member_row(session, customer_id)
    return session.scalars(locked).one()


def insert_member_row(session, customer_id: int) -> None:
    """A new member row (not a member yet: no tier; the columns' defaults), unless another till
    just inserted it: two tills creating the same member at once, one inserts, the other skips."""
    MEMBER_INSERT.execute(session, {"customer_id": customer_id})


# Built once per database (core/models/prepared.py). A sale's first purchase inserts the row in
# its own upsert (services/sales.py); this is for a member made by hand or by an import.
MEMBER_INSERT = Prepared(lambda dialect: insert_for(dialect, Member.__table__)
                         .on_conflict_do_nothing(index_elements=["customer_id"]))


def find_member(session, customer_id: int) -> Member | None:
    return session.get(Member, customer_id)


def counted_spend(session, program: Program, customer_id: int, now: datetime) -> Decimal:
    """Spend that qualifies for tiers: lifetime, or the last 12 months (program setting)."""
    return Decimal(session.scalar(_counted_spend_query(program, customer_id, now))).quantize(CENT)


def counted_purchases(session, program: Program, customer_id: int, now: datetime) -> int:
    """Purchases that qualify: sales with something paid, not refunded in full; lifetime or
    the last 12 months."""
    return int(session.scalar(select(purchases_sql(program, customer_id, now))))


def _counted_spend_query(program: Program, customer_id, now: datetime):
    query = select(func.coalesce(func.sum(Spend.amount), 0)).where(Spend.customer_id == customer_id)
    if program.qualification == "rolling_12m":
        query = query.where(Spend.occurred_at >= now - timedelta(days=365))
    return query


def purchases_sql(program: Program | None, customer_id, now: datetime | None = None):
    """The counted purchases of `customer_id` (a value or a column) as a scalar subquery: sales
    whose spend rows (the sale's and its refunds', all dated at the sale) add up to more than 0.
    `program` None: lifetime, whatever the program counts (the member row's `purchase_count`)."""
    net = aliased(Spend)
    query = (select(func.count(sa.distinct(Spend.sale_id)))
             .where(Spend.customer_id == customer_id, Spend.sale_id.is_not(None), Spend.amount > 0,
                    select(func.sum(net.amount)).where(net.customer_id == Spend.customer_id,
                                                       net.sale_id == Spend.sale_id).scalar_subquery() > 0))
    if program is not None and program.qualification == "rolling_12m":
        query = query.where(Spend.occurred_at >= now - timedelta(days=365))
    if isinstance(customer_id, sa.ColumnElement):
        query = query.correlate(Member)  # asked of many members at once, from inside other subqueries
    return query.scalar_subquery()


def tiers_and_counted_spend(session, program: Program, customer_id: int, now: datetime) -> tuple[list[Tier], Decimal]:
    """`active_tiers` and `counted_spend` in one round trip: the spend rides on every tier row
    (without tiers it is not needed, as no tier can be reached: 0 is returned)."""
    tiers, spend, _purchases = tiers_and_counts(session, program, customer_id, now)
    return tiers, spend


def tiers_and_counts(session, program: Program, customer_id: int, now: datetime) -> tuple[list[Tier], Decimal, int]:
    """`active_tiers`, counted spend and counted purchases in one round trip (they ride on
    every tier row; without tiers no tier can be reached and 0s are returned)."""
    by_count = program.qualify_by in ("purchases", "either")
    purchases = purchases_sql(program, customer_id, now) if by_count else sa.literal(0)
    rows = session.execute(select(Tier, _counted_spend_query(program, customer_id, now).scalar_subquery(), purchases)
                           .where(Tier.active.is_(True)).order_by(Tier.threshold, Tier.id)).all()
    if not rows:
        return [], ZERO, 0
    return [row[0] for row in rows], Decimal(rows[0][1]).quantize(CENT), int(rows[0][2])


def member_qualifies_for(session, program: Program, member: Member, now: datetime, tiers=None) -> Tier | None:
    """The tier `member`'s counted spend and purchases reach now (None: below the first)."""
    if tiers is None:
        tiers, spend, purchases = tiers_and_counts(session, program, member.customer_id, now)
    else:
        spend = counted_spend(session, program, member.customer_id, now)
        purchases = counted_purchases(session, program, member.customer_id, now)
    return tier_for(tiers, spend, purchases, program.qualify_by)


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


# --- tier changes -------------------------------------------------------------------------------------

def change_tier(session, member: Member, new: Tier | None, *, reason: str, store=None, user=None, notify=None,
                occurred_at: datetime | None = None, sale: Sale | None = None, key: str | None = None) -> dict | None:
    """Move `member` to `new` and write it on the customer's timeline. A first tier is an
    enrolment, credited to `sale`'s store and salesperson when a sale reached it, else to
    `store` and the signed-in `user` who enrolled them (none for a job).

    `key` names the sale or refund that caused it (``sale:<id>``, ``refund:<id>``): the change
    is then announced (the customer told, the webhook sent) after the commit, by the plugin's
    follow-up to that event (`announce_changes_of`); without a key it is announced at once."""
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
    if key is not None:
        change["key"] = key
    activity = Activity(customer_id=member.customer_id, store_id=getattr(store, "id", None), kind="tier_change",
                        source=SOURCE, title=tier_change_title(old, new),
                        # The reason is a code of the rules (labelled where shown, e.g. the ledger): the
                        # timeline's title says the change; the reason stays in `data`.
                        body=None, data=dict(change), actor_user_id=getattr(user, "id", None), occurred_at=now)
    session.add(activity)
    session.flush()
    if key is None:
        change["notified"] = announce(session, member.customer, activity, store=store, notify=notify,
                                      tiers={new.code: new} if new is not None else {})
    return change


def tier_change_title(old, new) -> str:
    return f"{old.name if old else '—'} → {new.name if new else '—'}"


def reached_because(tier: Tier, spend: Decimal) -> str:
    """Why a member reached `tier` (the reason code kept on the change)."""
    return f"spend reached ¥{tier.threshold}" if spend >= tier.threshold else f"purchases reached {tier.min_purchases}"


def announce(session, customer: Customer, activity: Activity, *, store=None, notify=None,
             tiers: dict[str, Tier] | None = None) -> bool:
    """Tell `customer` of the tier change on `activity` (through `notify`, the message channels'
    hook) and send its webhook; noted on the activity, so it is announced once. Returns whether
    a channel took the message. `tiers`: the tiers by code, when the caller announces many."""
    change = dict(activity.data or {})
    if "notified" in change:
        return bool(change["notified"])
    notified = False
    # By code: the tier may have been renamed since (its name is the current one), or deleted.
    if tiers is None and change.get("to"):
        tiers = {t.code: t for t in session.scalars(select(Tier).where(Tier.code == change["to"]))}
    new = (tiers or {}).get(change.get("to"))
    if notify is not None and new is not None:
        topic = f"membership.{change['direction']}" if change.get("from") else "membership.welcome"
        notified = bool(notify(customer, topic, {"tier": new.code, "tier_name": new.name,
                                                 "previous_tier": change.get("from")}))
    activity.data = {**change, "notified": notified}
    emit_event(session, store if store is not None else activity.store_id, "membership.tier_changed",
               {"customer_id": customer.id, **{k: change.get(k) for k in ("from", "to", "direction", "reason")}},
               customer_id=customer.id)
    return notified


def announce_changes_of(session, caused: list[tuple[int, str]], *, store=None, notify_for=None) -> int:
    """After the commit of sales or refunds: announce the tier changes they made. `caused`:
    (customer id, key) pairs, the key naming the sale or refund (``sale:<id>``, ``refund:<id>``);
    `notify_for(key)`: the notifier for that sale's or refund's event. One indexed read for
    the lot, however many made none; returns how many were announced."""
    keys = {key for _, key in caused}
    customers = {customer_id for customer_id, _ in caused if customer_id is not None}
    if not customers:
        return 0
    found = [activity for activity in session.scalars(select(Activity).where(
        Activity.customer_id.in_(customers), Activity.kind == "tier_change", Activity.source == SOURCE,
        Activity.data["key"].as_string().in_(keys)).order_by(Activity.id)) if "notified" not in (activity.data or {})]
    if not found:
        return 0
    # Under load a batch announces many (a new buyer's first sale enrols them): their profiles
    # and the tiers in one read each, not one per change.
    people = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.id.in_({activity.customer_id for activity in found})))}
    tiers = {t.code: t for t in session.scalars(select(Tier))}
    for activity in found:
        notify = notify_for(activity.data["key"]) if notify_for is not None else None
        announce(session, people[activity.customer_id], activity, store=store, notify=notify, tiers=tiers)
    return len(found)


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
