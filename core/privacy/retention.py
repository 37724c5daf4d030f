"""Retention: a store may purge the personal data of customers inactive for a set period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select

from core.errors import InvalidInput
from core.models import Activity, Customer, Sale, Visit, utcnow
from core.privacy.erasure import erase_customer
from core.privacy.models import StorePrivacy

MIN_RETENTION_DAYS = 30  # shorter would erase customers before a refund window closes


def get_retention(session, store) -> int | None:
    row = session.get(StorePrivacy, store.id)
    return row.retention_days if row else None


def set_retention(session, store, days: int | None, *, user=None) -> StorePrivacy:
    from core.audit import audit

    if days is not None and days < MIN_RETENTION_DAYS:
        raise InvalidInput(f"retention must be at least {MIN_RETENTION_DAYS} days",
                           fields={"retention_days": [f"At least {MIN_RETENTION_DAYS} days, or null to keep data."]})
    row = session.get(StorePrivacy, store.id) or StorePrivacy(store_id=store.id)
    old = row.retention_days
    row.retention_days = days
    session.add(row)
    audit("retention_set", actor=user, target=store, store=store, session=session,
          details={"old": old, "new": days})
    return row


def expired_customers_query(store_id: int, cutoff):
    """Customers of this home store with no profile change, sale, visit or activity since `cutoff`."""
    return select(Customer.id).where(
        Customer.home_store_id == store_id,
        Customer.erased_at.is_(None),
        Customer.created_at < cutoff,
        Customer.updated_at < cutoff,
        ~exists().where(Sale.customer_id == Customer.id, Sale.occurred_at >= cutoff),
        ~exists().where(Visit.customer_id == Customer.id, Visit.occurred_at >= cutoff),
        ~exists().where(Activity.customer_id == Customer.id, Activity.occurred_at >= cutoff),
    ).order_by(Customer.id)


def purge_expired(session, *, now=None, batch: int = 200) -> int:
    """Erase up to `batch` expired customers per store; returns how many. The caller commits."""
    now = now or utcnow()
    erased = 0
    for setting in session.scalars(select(StorePrivacy).where(StorePrivacy.retention_days.is_not(None))):
        cutoff = now - timedelta(days=setting.retention_days)
        ids = list(session.scalars(expired_customers_query(setting.store_id, cutoff).limit(batch)))
        for customer_id in ids:
            erase_customer(session, session.get(Customer, customer_id), actor="retention",
                           reason=f"inactive for {setting.retention_days} days")
            erased += 1
    return erased


def purge_expired_job() -> None:
    """The periodic job: purge in batches, one commit per batch, until nothing is left."""
    from core.extensions import db

    while True:
        count = purge_expired(db.session)
        db.session.commit()
        if count == 0:
            break
