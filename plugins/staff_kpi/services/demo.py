"""Demo data (`demo_seed`): monthly targets for the store's people, near what they really sell."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from plugins.staff_kpi.models import Target
from plugins.staff_kpi.services import figures, rollup
from plugins.staff_kpi.services.periods import month_days, period_for


def seed(session, store, rng, today) -> None:
    """Targets for last month and this month (each 90–125% of last month's net sales, in ¥100s,
    at least ¥1,000) and a repurchase-rate target of 30%. Idempotent: existing targets stay."""
    rollup.rebuild_history(session, store, today)
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    first, last = month_days(last_month)
    sold = figures.from_rollup(session, store, period_for(store.tz, first, last), "refund_period")
    have = {(t.user_id, t.month) for t in session.scalars(select(Target).where(Target.store_id == store.id))}
    for user in figures.store_staff(session, store):
        base = (sold.get(user.id) or {}).get("net_amount") or Decimal("0")
        for month in (last_month, today.strftime("%Y-%m")):
            if (user.id, month) in have:
                continue
            amount = max(Decimal("1000"), (base * Decimal(str(rng.uniform(0.9, 1.25))) / 100).quantize(Decimal("1")) * 100)
            session.add(Target(store_id=store.id, user_id=user.id, month=month, amount=amount,
                               metrics={"repurchase_rate": "30"}, updated_by="demo"))
    session.flush()
