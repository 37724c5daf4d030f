"""Data-subject requests (to see, correct, export or delete), each due within 30 days."""

from __future__ import annotations

from sqlalchemy import select

from core.audit import audit
from core.errors import Conflict, InvalidInput, NotFound
from core.models import utcnow
from core.privacy.models import REQUEST_DUE, REQUEST_KINDS, REQUEST_STATUSES, PrivacyRequest


def open_request(session, store, kind: str, *, customer=None, channel: str | None = None, note: str | None = None,
                 user=None, received_at=None) -> PrivacyRequest:
    if kind not in REQUEST_KINDS:
        raise InvalidInput(f"unknown request kind {kind}", fields={"kind": [f"Must be one of {', '.join(REQUEST_KINDS)}."]})
    received = received_at or utcnow()
    row = PrivacyRequest(store_id=getattr(store, "id", None), customer_id=getattr(customer, "id", None), kind=kind,
                         status="open", channel=channel, note=note, received_at=received,
                         due_at=received + REQUEST_DUE, created_by_user_id=getattr(user, "id", None))
    session.add(row)
    session.flush()
    audit("privacy_request_open", actor=user, target=row, store=row.store_id, session=session, details={"kind": kind})
    return row


def close_request(session, request: PrivacyRequest, status: str, *, resolution: str | None = None,
                  user=None) -> PrivacyRequest:
    if status not in REQUEST_STATUSES or status == "open":
        raise InvalidInput("a request is closed as done or rejected", fields={"status": ["Must be done or rejected."]})
    if request.status != "open":
        raise Conflict(f"request {request.id} is closed already")
    request.status = status
    request.resolution = resolution
    request.closed_at = utcnow()
    request.closed_by_user_id = getattr(user, "id", None)
    audit("privacy_request_close", actor=user, target=request, store=request.store_id, session=session,
          details={"kind": request.kind, "status": status})
    return request


def requests_query(*, store_ids=None, status: str | None = None, overdue: bool = False, kind: str | None = None,
                   now=None):
    """A SELECT of requests, filtered; `overdue` means open past the due date."""
    stmt = select(PrivacyRequest)
    if store_ids is not None:
        stmt = stmt.where(PrivacyRequest.store_id.in_(store_ids))
    if status:
        stmt = stmt.where(PrivacyRequest.status == status)
    if kind:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    if overdue:
        stmt = stmt.where(PrivacyRequest.status == "open", PrivacyRequest.due_at < (now or utcnow()))
    return stmt


def get_request(session, request_id: int) -> PrivacyRequest:
    row = session.get(PrivacyRequest, request_id)
    if row is None:
        raise NotFound(f"privacy request {request_id} not found")
    return row
