"""The audit log is append-only: the ORM refuses to change or delete its rows.

The database enforces the same with triggers (migration core_0002_privacy); this guard fails
earlier, with a clear message, and also covers a database restored without the triggers."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.models import AuditLog


class AuditLogIsAppendOnly(RuntimeError):
    pass


def _refuse_changes(session, flush_context, instances):
    for obj in session.deleted:
        if isinstance(obj, AuditLog):
            raise AuditLogIsAppendOnly("audit log rows cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditLog) and session.is_modified(obj, include_collections=False):
            raise AuditLogIsAppendOnly("audit log rows cannot be changed")


def _refuse_bulk(state):
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditLog.__tablename__:
        raise AuditLogIsAppendOnly("audit log rows cannot be changed or deleted")


def install() -> None:
    if not event.contains(Session, "before_flush", _refuse_changes):
        event.listen(Session, "before_flush", _refuse_changes)
        event.listen(Session, "do_orm_execute", _refuse_bulk)
