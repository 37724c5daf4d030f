"""Role and store-access changes are audited wherever they are made (admin, CLI, scripts):
the ORM notices them at flush time, so no code path can forget to write the record."""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.models import User


def _actor():
    if not has_request_context():
        return "system"
    principal = g.get("principal")
    if principal is not None:
        return principal.user or principal.name
    try:
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
    except Exception:  # noqa: BLE001 - no login manager on this app
        pass
    return "system"


def _audit_role_changes(session, flush_context, instances):
    from core.audit import audit

    for user in [o for o in session.dirty if isinstance(o, User)]:
        state = inspect(user)
        role = state.attrs.role.history
        stores = state.attrs.stores.history
        details = {}
        if role.has_changes() and role.deleted and role.added and role.deleted[0] != role.added[0]:
            details["old_role"], details["new_role"] = role.deleted[0], role.added[0]
        if stores.has_changes():
            added = sorted(s.code for s in stores.added or ())
            removed = sorted(s.code for s in stores.deleted or ())
            if added or removed:
                details["stores_added"], details["stores_removed"] = added, removed
        if details:
            audit("role_change", actor=_actor(), target=user, session=session,
                  details={"username": user.username, **details})


def install() -> None:
    if not event.contains(Session, "before_flush", _audit_role_changes):
        event.listen(Session, "before_flush", _audit_role_changes)
