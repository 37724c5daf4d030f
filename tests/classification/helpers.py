"""Shared helpers: customers and sales written through the core services or, for bulk data,
straight as rows (then classified by the nightly recompute)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.extensions import db
from core.models import Customer, Sale, Store, utcnow

HOUR = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")  # build_chain's stores


def store(code="SH001") -> Store:
    return db.session.scalars(select(Store).where(Store.code == code)).one()


def customer(name: str, home="SH001", **extra) -> Customer:
    row = Customer(name=name, home_store=store(home), hobbies=extra.pop("hobbies", []), preferences={}, **extra)
    db.session.add(row)
    db.session.flush()
    return row


def ago(days: float, hours: float = 2):
    """A moment `days` whole local days in the past, clear of day boundaries: `hours` before
    noon on that date in the test stores' timezone (Shanghai). Classes count calendar days of
    the store's timezone, so a moment counted back in UTC hours would land on the day before
    when the suite runs between 00:00 and 02:00 in Shanghai."""
    today = utcnow().astimezone(SHANGHAI).date()
    noon = datetime.combine(today - timedelta(days=days), time(12), SHANGHAI)
    return (noon - timedelta(hours=hours)).astimezone(timezone.utc)


def buy(who: Customer | None, amount=None, days_ago: float = 1, at="SH001", lines=None, hours=2):
    """Record a sale through core.services.sales, so classes update as they do at a till."""
    from core.services.sales import record_sale

    data = {"occurred_at": ago(days_ago, hours), "customer": {"id": who.id} if who is not None else None}
    if lines:
        data["lines"] = lines
    else:
        data["total"] = Decimal(str(amount))
    sale, _ = record_sale(db.session, store(at), data)
    return sale


def bulk_sale(who: Customer, amount, days_ago: float = 1, at: Store | None = None, hours=2) -> Sale:
    """A sale row without the per-sale machinery (for data sets classified by a recompute)."""
    amount = Decimal(str(amount))
    sale = Sale(store=at or store(), customer_id=who.id, occurred_at=ago(days_ago, hours), subtotal=amount,
                adjustment_total=Decimal("0.00"), total=amount, refunded_total=Decimal("0.00"), status="completed",
                channel="store")
    db.session.add(sale)
    return sale


def classes(who: Customer, scope: str | int = "SH001") -> dict | None:
    from core.classification.models import CHAIN_SCOPE, CustomerClass

    scope_id = CHAIN_SCOPE if scope == "chain" else (scope if isinstance(scope, int) else store(scope).id)
    db.session.expire_all()
    row = db.session.get(CustomerClass, (who.id, scope_id))
    if row is None:
        return None
    from core.classification.reasons import live_numbers

    live = live_numbers(db.session, row)
    out = {c: getattr(row, c) for c in ("amount_class", "frequency_class", "final_class", "lifecycle", "r_score",
                                         "f_score", "m_score", "rfm_segment", "purchases", "amount")}
    return {**out, "amount_rank": live["rank"], "buyers": live["buyers"], "recency_days": live["days_since_last"],
            "population": live["population"]}


def recompute(now=None):
    from core.classification.compute import recompute_all

    return recompute_all(db.session, now=now)
