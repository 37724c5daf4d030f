"""SLA breach alerts: one per complaint and deadline, however often and however many workers
run the job. The row is inserted with ON CONFLICT DO NOTHING on (complaint, kind); only the
worker whose insert made the row tells the store's managers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.models import Store, StorePlugin, User, utcnow
from core.models.user import user_store
from core.plugins import HookContext
from plugins.feedback.models import OPEN_STATES, BreachAlert, Complaint
from plugins.feedback.services import messages


def _breached(kind: str, now: datetime):
    due = Complaint.first_response_due_at if kind == "first_response" else Complaint.resolution_due_at
    waiting = Complaint.first_response_at.is_(None) if kind == "first_response" else Complaint.state.in_(OPEN_STATES)
    raised = exists().where(BreachAlert.complaint_id == Complaint.id, BreachAlert.kind == kind)
    enabled = exists().where(StorePlugin.store_id == Complaint.store_id, StorePlugin.plugin == "feedback",
                             StorePlugin.enabled.is_(True))
    return (select(Complaint.id, Complaint.store_id, due)
            .where(Complaint.state.in_(OPEN_STATES), waiting, due < now, ~raised, enabled)
            .order_by(Complaint.id))


def _insert_once(session, values: dict):
    """The new alert's id, or None when another run already raised it (committed or not)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (insert(BreachAlert).values(**values)
            .on_conflict_do_nothing(index_elements=["complaint_id", "kind"]).returning(BreachAlert.id))
    return session.execute(stmt).scalar()


def store_managers(session, store_id: int) -> list[User]:
    """Who hears of a breach: the store's active managers; the owners when it has none."""
    managers = list(session.scalars(select(User).join(user_store, user_store.c.user_id == User.id)
                                    .where(user_store.c.store_id == store_id, User.role == "manager",
                                           User.active.is_(True)).order_by(User.id)))
    if managers:
        return managers
    return list(session.scalars(select(User).where(User.role == "owner", User.active.is_(True)).order_by(User.id)))


def raise_breach_alerts(session, registry, now: datetime | None = None) -> int:
    """Raise every breach not yet raised; returns how many this run raised. Commits."""
    now = now or utcnow()
    raised = 0
    for kind in ("first_response", "resolution"):
        for complaint_id, store_id, due in session.execute(_breached(kind, now)).all():
            alert_id = _insert_once(session, {"complaint_id": complaint_id, "store_id": store_id, "kind": kind,
                                              "due_at": due, "raised_at": now, "notified": False})
            if alert_id is None:
                continue
            raised += 1
            store = session.get(Store, store_id)
            complaint = session.get(Complaint, complaint_id)
            ctx = HookContext(session=session, store=store, actor="feedback.sla", registry=registry, plugin="feedback")
            data = {"complaint_id": complaint_id, "kind": kind, "store": store.code, "store_name": store.name,
                    "category": complaint.category, "state": complaint.state, "due_at": due.isoformat(),
                    "due_local": store.local(due).strftime("%Y-%m-%d %H:%M")}
            if messages.notify_staff(ctx, store_managers(session, store_id), "feedback.sla_breach", data):
                session.get(BreachAlert, alert_id).notified = True
            # One commit per alert: a failure later in the run never takes back a told manager's row.
            session.commit()
    return raised


def open_alerts(session, store_ids) -> list[BreachAlert]:
    """Alerts on tickets still open (the dashboard tile and the queue's banner)."""
    stmt = (select(BreachAlert).join(Complaint, Complaint.id == BreachAlert.complaint_id)
            .where(Complaint.state.in_(OPEN_STATES)).order_by(BreachAlert.raised_at.desc()))
    if store_ids is not None:
        stmt = stmt.where(BreachAlert.store_id.in_(store_ids))
    return list(session.scalars(stmt.limit(50)))


def count_open_alerts(session, store_ids) -> int:
    stmt = (select(func.count(BreachAlert.id)).join(Complaint, and_(Complaint.id == BreachAlert.complaint_id))
            .where(Complaint.state.in_(OPEN_STATES)))
    if store_ids is not None:
        stmt = stmt.where(BreachAlert.store_id.in_(store_ids))
    return session.scalar(stmt) or 0
