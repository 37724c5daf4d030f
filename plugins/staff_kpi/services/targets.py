"""Monthly targets and attainment, the leaderboard and the commission payout."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from core.audit import audit
from core.errors import NotFound, Unprocessable
from core.models import Store, User
from core.models.user import user_store
from plugins.staff_kpi.models import Target
from plugins.staff_kpi.schemas import parse_tiers
from plugins.staff_kpi.services.figures import cents, percent

# Figures of the report a target may name, besides the amount and contributed metrics.
TARGETABLE = ("net_amount", "sales_count", "units", "gross_profit", "average_ticket", "repurchase_rate",
              "customers_served", "new_customers", "profiles_created")


def member_of_store(session, store: Store, username: str) -> User:
    """The user `username` assigned to `store`; anyone else is unknown here (404)."""
    user = session.scalars(select(User).where(User.username == username, User.id.in_(
        select(user_store.c.user_id).where(user_store.c.store_id == store.id)))).first()
    if user is None:
        raise NotFound(f"no staff member {username} in store {store.code}")
    return user


def set_target(session, store: Store, user: User, month: str, amount: Decimal | None, metrics: dict,
               *, actor, known_metrics=()) -> Target:
    """Create or replace `user`'s target for `month` in `store` (audited). `actor`: a User or a name."""
    unknown = sorted(set(metrics) - set(TARGETABLE) - set(known_metrics))
    if unknown:
        raise Unprocessable("unknown metric", fields={f"metrics.{k}": ["Not a figure of the report."] for k in unknown})
    if amount is None and not metrics:
        raise Unprocessable("give an amount or a metric target", fields={"amount": ["Missing."]})
    target = session.scalars(select(Target).where(Target.store_id == store.id, Target.user_id == user.id,
                                                  Target.month == month)).first()
    if target is None:
        target = Target(store_id=store.id, user_id=user.id, month=month)
        session.add(target)
    target.amount = cents(amount) if amount is not None else None
    target.metrics = {k: format(Decimal(v), "f") for k, v in sorted(metrics.items())}
    target.updated_by = getattr(actor, "username", None) or str(actor)
    session.flush()
    audit("staff_kpi_target_set", actor=actor, target=user, store=store, session=session, details={"month": month, "amount": format(target.amount, "f") if target.amount is not None else None,
                                             "metrics": target.metrics})
    return target


def targets_for(session, store: Store, month: str) -> dict[int, Target]:
    return {t.user_id: t for t in session.scalars(select(Target).where(Target.store_id == store.id, Target.month == month))}


def attach(session, store: Store, month: str, rows: list[dict]) -> None:
    """Fill each row's target, attainment (net sales / target, %) and metric targets (met or not)."""
    by_user = targets_for(session, store, month)
    for row in rows:
        target = by_user.get(row["user_id"])
        if target is None:
            continue
        row["target_amount"] = target.amount
        if target.amount:
            row["attainment_percent"] = percent(row["net_amount"], target.amount)
        for name, wanted in (target.metrics or {}).items():
            value = row.get(name) if name in TARGETABLE else row["metrics"].get(name)
            row["metric_targets"][name] = {"target": Decimal(wanted), "value": value,
                                           "met": None if value is None else Decimal(str(value)) >= Decimal(wanted)}


def leaderboard(report: dict) -> list[dict]:
    """Salespeople ranked by net sales (ties share a rank); sales without a salesperson left out."""
    rows = sorted((r for r in report["rows"] if r["user_id"] is not None),
                  key=lambda r: (-r["net_amount"], r["username"]))
    rank, previous = 0, None
    for i, row in enumerate(rows, start=1):
        if row["net_amount"] != previous:
            rank, previous = i, row["net_amount"]
        row["rank"] = rank
    return rows


def rate_for(tiers: list[tuple[Decimal, Decimal]], attainment: Decimal | None) -> Decimal:
    """The rate of the highest tier whose threshold the attainment reaches; without a target,
    attainment counts as 0%. Below the lowest threshold: no commission."""
    reached = attainment if attainment is not None else Decimal(0)
    rate = Decimal(0)
    for threshold, tier_rate in tiers:
        if reached >= threshold:
            rate = tier_rate
    return rate


def commission(report: dict, settings: dict) -> dict:
    """Each salesperson's payout for the month: basis (net sales or gross profit) x the rate of
    the tier their attainment reached, to the cent (half up), never below zero."""
    tiers = parse_tiers(settings["commission_tiers"])
    basis = settings["commission_basis"]
    rows = []
    for row in report["rows"]:
        if row["user_id"] is None:
            continue
        amount = row["net_amount"] if basis == "sales" else row["gross_profit"]
        rate = rate_for(tiers, row["attainment_percent"])
        payout = max(Decimal("0.00"), (amount * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        rows.append({"username": row["username"], "display_name": row["display_name"], "basis": basis,
                     "basis_amount": amount, "target_amount": row["target_amount"],
                     "attainment_percent": row["attainment_percent"], "rate_percent": rate, "payout": payout})
    return {"basis": basis, "tiers": [f"{t}:{r}" for t, r in tiers], "rows": rows,
            "total_payout": sum((r["payout"] for r in rows), Decimal("0.00"))}
