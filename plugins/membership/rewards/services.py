"""Rules of the rewards catalogue (积分兑换): plain functions on a session.

A redemption spends the member's points through membership's own ledger (soonest-expiring
lots first, under the member's row lock) and, for goods tied to a product, takes the stock
out through the `stock_change` hook (inventory when it is on in the store) in the same
transaction: when the stock is short nothing is written. A return gives the points back to
the lots they were drawn from, with their own expiry dates; points of a lot whose date has
passed meanwhile are gone, and the answer says how many."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import delete, select, update

from core.audit import audit
from core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from core.models import Customer, Product, utcnow
from core.plugins import HookContext
from plugins.membership import services as membership
from plugins.membership.models import PointsEntry
from plugins.membership.rewards.models import REWARD_KINDS, Reward, RewardRedemption

MAX_QUANTITY = 99
# stock(store, sku, quantity, reason, source_key) -> True when a plugin keeps this stock.
Stock = Callable[..., bool]


def stock_keeper(ctx: HookContext) -> Stock:
    """Ask the plugins enabled in the store that keep stock (inventory) to move it, through the
    `stock_change` hook. Their refusal (too little stock) propagates: the redemption fails."""

    def move(store, sku: str, quantity: int, reason: str, source_key: str) -> bool:
        reg = ctx.registry
        for name in reg.implementers("stock_change", reg.enabled_in(store)):
            if name == "membership":
                continue
            answers = reg.caller_for("stock_change", name)(store=store, sku=sku, quantity=quantity, reason=reason,
                                                           source_key=source_key, ctx=ctx.for_plugin(name))
            if any(answers):
                return True
        return False

    return move


def _actor(user, actor) -> str:
    return (getattr(user, "username", None) or str(actor or "system"))[:100]


# --- the catalogue ---------------------------------------------------------------------------------

def save_reward(session, data: dict, reward: Reward | None = None) -> Reward:
    errors = {}
    name = (data.get("name", reward.name if reward else "") or "").strip()
    if not name:
        errors["name"] = ["Give the reward a name."]
    kind = data.get("kind", reward.kind if reward else "goods")
    if kind not in REWARD_KINDS:
        errors["kind"] = [f"One of: {', '.join(REWARD_KINDS)}."]
    points = data.get("points", reward.points if reward else None)
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        errors["points"] = ["A whole number of points above 0."]
    sku = data.get("sku", reward.sku if reward else None)
    if sku and session.scalar(select(Product.id).where(Product.sku == sku)) is None:
        errors["sku"] = [f"No product with SKU {sku} in the catalogue."]
    if errors:
        raise InvalidInput("the reward is not valid", fields=errors)
    reward = reward or Reward()
    reward.name, reward.kind, reward.points = name[:100], kind, points
    for key in ("sku", "description", "active"):
        if key in data:
            setattr(reward, key, (data[key] or None) if key != "active" else bool(data[key]))
    session.add(reward)
    session.flush()
    return reward


def catalogue(session, *, active_only: bool = True) -> list[Reward]:
    stmt = select(Reward).order_by(Reward.points, Reward.id)
    if active_only:
        stmt = stmt.where(Reward.active.is_(True))
    return list(session.scalars(stmt))


def reward_or_404(session, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id) if 0 < reward_id < 2**31 else None
    if reward is None:
        raise NotFound(f"no reward {reward_id}")
    return reward


# --- redeem and return ------------------------------------------------------------------------------

def redeem(session, customer: Customer, reward: Reward, quantity: int, *, store, stock: Stock, user=None,
           actor: str = "system") -> RewardRedemption:
    """`quantity` of `reward` for its points; 422 when it is off, the customer is not a member,
    the balance is short, or the store has too little of it in stock."""
    if not reward.active:
        raise Unprocessable("this reward is no longer offered", fields={"reward_id": [f"{reward.name} is switched off."]})
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput("quantity out of range", fields={"quantity": [f"From 1 to {MAX_QUANTITY}."]})
    points = reward.points * quantity
    entry = membership.redeem_points(session, customer, points, f"{reward.name} ×{quantity}", store=store, user=user,
                                     actor=actor)
    row = RewardRedemption(customer_id=customer.id, reward_id=reward.id, quantity=quantity, points=points,
                           state="redeemed", entry_id=entry.id, store_id=getattr(store, "id", None),
                           actor_user_id=getattr(user, "id", None), actor=_actor(user, actor),
                           created_at=utcnow(), points_returned=0, points_expired=0, stock_kept=False)
    session.add(row)
    session.flush()
    entry.data = {**(entry.data or {}), "reward_redemption": row.id}
    if reward.sku:
        row.stock_kept = stock(store, reward.sku, -quantity, f"{reward.name} ×{quantity}",
                               f"membership:reward:{row.id}")
    audit("membership_reward_redeemed", actor=user or actor, target=("customer", customer.id), store=store,
          session=session, details={"reward": reward.name, "quantity": quantity, "points": points})
    return row


def give_back(session, row: RewardRedemption, reason: str, *, store, stock: Stock, user=None,
              actor: str = "system") -> RewardRedemption:
    """The member returned the reward: its points go back to their own lots (expired ones are
    gone) and goods go back into stock. Once only (409)."""
    if row.state != "redeemed":
        raise Conflict("this redemption was already returned", fields={"state": ["Already returned."]})
    if not (reason or "").strip():
        raise InvalidInput("a reason is required", fields={"reason": ["Say why it is returned."]})
    member = membership.lock_member(session, row.customer_id)
    program = membership.get_program(session)
    today = membership.local_date(utcnow(), program.timezone)
    entry = session.get(PointsEntry, row.entry_id) if row.entry_id else None
    drawn = (entry.data or {}).get("lots", []) if entry else []
    back, returned, expired, _left = membership.give_back_to_lots(
        session, member, drawn, sum(int(n) for _lot_id, n in drawn), today,
        key=f"reverse:reward:{row.id}", reason=f"{row.reward.name} ×{row.quantity}: {reason.strip()}"[:300],
        store=store, user=user, actor=actor, data={"reward_redemption": row.id})
    row.state, row.returned_at, row.return_reason = "returned", utcnow(), reason.strip()[:300]
    row.return_entry_id, row.points_returned, row.points_expired = back.id, returned, expired
    if row.stock_kept and row.reward.sku:
        stock(store, row.reward.sku, row.quantity, f"{row.reward.name} ×{row.quantity}: {reason.strip()}",
              f"membership:reward-return:{row.id}")
    audit("membership_reward_returned", actor=user or actor, target=("customer", row.customer_id), store=store,
          session=session, details={"redemption": row.id, "points_returned": returned, "points_expired": expired})
    return row


def redemption_or_404(session, redemption_id: int, visible_customer_ids=None, *, lock: bool = False) -> RewardRedemption:
    """A redemption of a customer the caller sees (`visible_customer_ids`: a subquery, None for all)."""
    if not 0 < redemption_id < 2**31:
        raise NotFound(f"no redemption {redemption_id}")
    stmt = select(RewardRedemption).where(RewardRedemption.id == redemption_id)
    if visible_customer_ids is not None:
        stmt = stmt.where(RewardRedemption.customer_id.in_(visible_customer_ids))
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"no redemption {redemption_id}")
    return row


def redemptions_of(session, customer_id: int, limit: int = 20) -> list[RewardRedemption]:
    return list(session.scalars(select(RewardRedemption).where(RewardRedemption.customer_id == customer_id)
                                .order_by(RewardRedemption.id.desc()).limit(limit)))


def view(row: RewardRedemption) -> dict:
    return {"id": row.id, "customer_id": row.customer_id, "reward": {"id": row.reward.id, "name": row.reward.name,
                                                                    "kind": row.reward.kind},
            "quantity": row.quantity, "points": row.points, "state": row.state, "stock_kept": row.stock_kept,
            "points_returned": row.points_returned, "points_expired": row.points_expired,
            "created_at": row.created_at, "returned_at": row.returned_at}


# --- personal data -------------------------------------------------------------------------------

def export(session, customer_id: int) -> list[dict]:
    return [{"reward": r.reward.name, "quantity": r.quantity, "points": r.points, "state": r.state,
             "created_at": r.created_at.isoformat(), "returned_at": r.returned_at.isoformat() if r.returned_at else None}
            for r in redemptions_of(session, customer_id, limit=10_000)]


def erase(session, customer_id: int) -> None:
    session.execute(delete(RewardRedemption).where(RewardRedemption.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> dict[str, int]:
    moved = session.execute(update(RewardRedemption).where(RewardRedemption.customer_id == merged_id)
                            .values(customer_id=kept_id)).rowcount
    return {RewardRedemption.__tablename__: moved} if moved else {}
