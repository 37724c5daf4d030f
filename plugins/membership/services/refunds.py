"""A refund's effect on membership: points reversed and returned, spend uncounted, downgrade."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.models import Sale, utcnow
from plugins.membership.models import PointsEntry, Spend
from plugins.membership.services.common import CENT, expiry_for, whole_points
from plugins.membership.services.ledger import (_credit, _debit, entry_exists, give_back_to_lots, lock_with_available,
                                                program_today)
from plugins.membership.services.members import _add_spend, change_tier, member_qualifies_for
from plugins.membership.services.program import active_tiers, get_program, rank
from plugins.membership.services.sales import _remember_summary, _spread_over_lines, paid_amount


def record_refund(session, sale: Sale, refund, store, *, user=None, actor="system") -> dict | None:
    """`sale_refunded`: take back exactly what the refunded lines earned, give back the points
    they were paid with (into the lots they came from, with those lots' dates), uncount their
    spend, and downgrade at once if the program says so. The refund's answer says what this
    refund did (`sale_summary` reads it back)."""
    if sale.customer_id is None:
        return None
    program = get_program(session)
    today = program_today(program)
    member, available = lock_with_available(session, sale.customer_id, today)
    if session.scalars(select(Spend.id).where(Spend.source_key == f"refund:{refund.id}")).first():
        return None
    paid = paid_amount(sale)
    fraction_paid = (paid / sale.total) if sale.total else Decimal(0)
    spend_back = (refund.amount * fraction_paid).quantize(CENT)
    # Dated at the sale, so the refund leaves the same 12-month window as the purchase.
    _add_spend(session, member, -spend_back, sale.occurred_at, sale.id, f"refund:{refund.id}")
    if paid > 0 and sale.refunded_total >= sale.total:
        member.purchase_count = max((member.purchase_count or 0) - 1, 0)  # refunded in full: no longer a purchase

    # Points paid for the refunded goods come back first, so the reversal below rarely finds
    # the balance short.
    returned_points = expired_points = 0
    redeemed = entry_exists(session, f"redeem:sale:{sale.id}")
    if redeemed is not None:
        back, lines = _owed_for_refund(session, sale, refund, redeemed, "restore")
        if back:
            returned_points, expired_points = _return_to_lots(
                session, member, sale, refund, redeemed, back, today, lines, store=store, user=user, actor=actor)
            available += returned_points

    reversed_points = 0
    earn = entry_exists(session, f"earn:sale:{sale.id}")
    if earn is not None and earn.points:
        owed, lines = _owed_for_refund(session, sale, refund, earn, "reverse")
        if owed:
            take = min(owed, available)  # never below zero, even if they were spent (or expired) meanwhile
            _debit(session, member, "reverse", take, reason="refund", key=f"reverse:refund:{refund.id}",
                   sale=sale, refund=refund, store=store, user=user, actor=actor, today=today, available=available,
                   data={"lines": lines, "owed": owed, "unrecovered": owed - take}, prefer_lot=earn.id)
            reversed_points = take
            available -= take
    change = None
    if member.is_member and not member.tier_locked and program.refund_downgrade == "immediate":
        tiers = active_tiers(session)
        qualified = member_qualifies_for(session, program, member, utcnow(), tiers) or tiers[0]
        if rank(tiers, qualified) < rank(tiers, member.tier):
            change = change_tier(session, member, qualified, reason="refund: spend below the threshold",
                                 store=store, user=user, key=f"refund:{refund.id}")
    downgraded = bool(change and change["direction"] == "downgrade")
    _remember_summary(session, sale, member, earned=0, redeemed=0, upgraded=False, balance=available,
                      tier=member.tier.code if member.tier else None,
                      points_reversed=reversed_points, points_returned=returned_points,
                      points_expired=expired_points, downgraded=downgraded,
                      **({"previous_tier": change["from"]} if downgraded else {}))
    return {"points_reversed": reversed_points, "points_returned": returned_points, "points_expired": expired_points,
            "tier_change": change}


def _return_to_lots(session, member, sale: Sale, refund, redeemed: PointsEntry, back: int, today, lines: dict, *,
                    store, user, actor) -> tuple[int, int]:
    """Give `back` of `redeemed`'s points back to the lots they were drawn from (less what
    this sale's earlier refunds gave back). Returns (points given back, points gone)."""
    returned: dict[int, int] = {}
    for prior in session.scalars(select(PointsEntry).where(
            PointsEntry.sale_id == sale.id, PointsEntry.refund_id != refund.id,
            PointsEntry.source_key.like("restore:refund:%"))):
        for lot_id, n in (prior.data or {}).get("lots") or []:
            returned[int(lot_id)] = returned.get(int(lot_id), 0) + int(n)
    _entry, live, gone, left = give_back_to_lots(
        session, member, (redeemed.data or {}).get("lots"), back, today, already=returned,
        key=f"restore:refund:{refund.id}", reason="points paid for refunded goods", sale=sale, refund=refund,
        store=store, user=user, actor=actor, data={"lines": lines, "owed": back})
    if left:  # drawn before lots were recorded: a lot of its own, dated from today
        program = get_program(session)
        _credit(session, member, "reverse", left, expires_on=expiry_for(program, today),
                reason="points paid for refunded goods", key=f"restore-rest:refund:{refund.id}", sale=sale,
                refund=refund, store=store, user=user, actor=actor, data={"lines": {}})
    return live + left, gone


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
