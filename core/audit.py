"""The append-only audit log: one call per sensitive action."""

from __future__ import annotations

from flask import has_request_context, request

from core.extensions import db
from core.models import AuditLog


def audit(action: str, *, actor=None, target=None, store=None, details: dict | None = None, session=None) -> AuditLog:
    """Record `action` by `actor` (a User, a token name or None for the system) on `target`."""
    from core.models import User

    session = session or db.session
    user_id = actor.id if isinstance(actor, User) else None
    actor_name = actor.username if isinstance(actor, User) else (actor or "system")
    # remote_addr, not X-Forwarded-For: ProxyFix (STORECRM_TRUSTED_PROXIES) already took the
    # hops of trusted proxies into account; anything else in that header the client could forge.
    ip = request.remote_addr if has_request_context() else None
    row = AuditLog(
        user_id=user_id,
        actor=actor_name,
        ip=ip,
        action=action,
        target_type=type(target).__name__.lower() if target is not None and not isinstance(target, tuple) else (target[0] if target else None),
        target_id=str(target.id) if hasattr(target, "id") else (str(target[1]) if isinstance(target, tuple) else None),
        store_id=store if isinstance(store, int) or store is None else store.id,
        details=details or {},
    )
    session.add(row)
    return row
