"""The append-only audit log: one call per sensitive action."""

from __future__ import annotations

from flask import has_request_context, request

from sqlalchemy import insert

from core.extensions import db
from core.models import AuditLog, utcnow
from core.models.prepared import Prepared


def audit(action: str, *, actor=None, target=None, store=None, details: dict | None = None, session=None) -> AuditLog:
    """Record `action` by `actor` (a User, a token name or None for the system) on `target`:
    an AuditLog added to the session, written with its next flush."""
    row = AuditLog(**_values(action, actor=actor, target=target, store=store, details=details))
    (session or db.session).add(row)
    return row


def audit_now(session, action: str, *, actor=None, target=None, store=None, details: dict | None = None) -> None:
    """`audit`, written at once with one prepared INSERT rather than through the unit of work:
    for the till's path (a chain customer linked to the store), where a flush costs more than
    the row."""
    values = _values(action, actor=actor, target=target, store=store, details=details)
    AUDIT_INSERT.execute(session, {**values, "at": utcnow()})


def _values(action: str, *, actor, target, store, details) -> dict:
    from core.models import User

    return {
        "user_id": actor.id if isinstance(actor, User) else None,
        "actor": actor.username if isinstance(actor, User) else (actor or "system"),
        # remote_addr, not X-Forwarded-For: ProxyFix (STORECRM_TRUSTED_PROXIES) already took the
        # hops of trusted proxies into account; anything else in that header the client could forge.
        "ip": request.remote_addr if has_request_context() else None,
        "action": action,
        "target_type": (type(target).__name__.lower() if target is not None and not isinstance(target, tuple)
                        else (target[0] if target else None)),
        "target_id": str(target.id) if hasattr(target, "id") else (str(target[1]) if isinstance(target, tuple) else None),
        "store_id": store if isinstance(store, int) or store is None else store.id,
        "details": details or {},
    }


AUDIT_INSERT = Prepared(lambda dialect: insert(AuditLog.__table__))
