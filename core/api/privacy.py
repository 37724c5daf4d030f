"""Privacy endpoints: export and erase a person, the audit log, data-subject requests,
retention (domain.md "Privacy and access"). The rules live in core.privacy."""

from __future__ import annotations

from flask import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from core.api.customers import load_visible
from core.api.fields import Id, Timestamp
from core.api.http import decode_cursor, encode_cursor, endpoint, principal, resolve_store
from core.api.schemas import Strict
from core.errors import NotFound
from core.extensions import db
from core.models import AuditLog, Store
from core.privacy import requests as req_svc
from core.privacy.erasure import erase_customer
from core.privacy.export import export_customer
from core.privacy.models import REQUEST_KINDS, REQUEST_STATUSES
from core.privacy.retention import get_retention, set_retention

bp = Blueprint("privacy", __name__)
bp.storecrm_tag = "privacy"


# --- schemas ------------------------------------------------------------------------------------------

class ErasureOut(Strict):
    customer_id = fields.Integer()
    erased_at = fields.AwareDateTime()
    sales_detached = fields.Integer()
    visits_detached = fields.Integer()
    activities_deleted = fields.Integer()
    plugins = fields.List(fields.String())


class AuditQuery(Strict):
    action = fields.String(validate=validate.Length(max=64))
    actor = fields.String(validate=validate.Length(max=120))
    target_type = fields.String(validate=validate.Length(max=32))
    target_id = fields.String(validate=validate.Length(max=64))
    store = fields.String()
    since = Timestamp()
    until = Timestamp()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class AuditOut(Strict):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String()
    user_id = fields.Integer(allow_none=True)
    ip = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    store = fields.Function(lambda row: _store_codes().get(row.store_id), allow_none=True)
    details = fields.Dict()


class RequestIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(REQUEST_KINDS))
    customer_id = Id(load_default=None, allow_none=True)
    channel = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    store = fields.String(load_default=None)


class RequestClose(Strict):
    status = fields.String(required=True, validate=validate.OneOf([s for s in REQUEST_STATUSES if s != "open"]))
    resolution = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class RequestQuery(Strict):
    status = fields.String(validate=validate.OneOf(REQUEST_STATUSES))
    kind = fields.String(validate=validate.OneOf(REQUEST_KINDS))
    overdue = fields.Boolean(load_default=False)
    store = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class RequestOut(Strict):
    id = fields.Integer()
    store = fields.Function(lambda row: row.store.code if row.store else None, allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    kind = fields.String()
    status = fields.String()
    channel = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)
    received_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)


class RetentionIn(Strict):
    store = fields.String(load_default=None)
    retention_days = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=1, max=36500))


class RetentionQuery(Strict):
    store = fields.String()


class RetentionOut(Strict):
    store = fields.String()
    retention_days = fields.Integer(allow_none=True)


def _store_codes() -> dict:
    from flask import g

    if "_store_codes" not in g:
        g._store_codes = dict(db.session.execute(select(Store.id, Store.code)).all())
    return g._store_codes


# --- a person's data --------------------------------------------------------------------------------

EXPORT_DOC = {
    "type": "object", "required": ["format", "exported_at", "profile", "plugins"],
    "description": "Everything stored about the person: the core's records in their own shape, any other "
                   "core row about them under `other`, and each module's part under `plugins`",
    "properties": {
        "format": {"type": "string", "description": "the export format's name and version"},
        "exported_at": {"type": "string", "format": "date-time"},
        "profile": {"type": "object", "description": "the full, unmasked profile"},
        **{name: {"type": "array", "items": {"type": "object"}}
           for name in ("consents", "sales", "visits", "activities", "privacy_requests")},
        "other": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object"}},
                  "description": "table -> rows"},
        "plugins": {"type": "object", "additionalProperties": {"type": "object"},
                    "description": "module name -> its part (customer_export)"},
    },
}


@endpoint(bp, "/customers/<int:customer_id>/export", "GET", role="manager", errors=(401, 403, 404),
          doc_response=EXPORT_DOC, operation_id="exportCustomer",
          summary="Export everything stored about a person (every plugin's part), unmasked and audited")
def export(customer_id):
    customer = load_visible(customer_id)
    who = principal()
    document = export_customer(db.session, customer, user=who.user, actor=who.name)
    db.session.commit()
    return document


@endpoint(bp, "/customers/<int:customer_id>", "DELETE", role="manager", operation_id="eraseCustomer", response=ErasureOut, errors=(401, 403, 404, 422),
          summary="Erase a person: personal data removed everywhere; sales stay, detached")
def erase(customer_id):
    customer = load_visible(customer_id)
    who = principal()
    summary = erase_customer(db.session, customer, user=who.user, actor=who.name)
    db.session.commit()
    return summary


# --- the audit log -------------------------------------------------------------------------------------

@endpoint(bp, "/audit", "GET", role="owner", query=AuditQuery, response=AuditOut, paginated=True, errors=(400, 401, 403),
          summary="Read the audit log, newest first (owners)")
def audit_log(args):
    stmt = select(AuditLog)
    for key in ("action", "actor", "target_type", "target_id"):
        if args.get(key):
            stmt = stmt.where(getattr(AuditLog, key) == args[key])
    if args.get("store"):
        stmt = stmt.where(AuditLog.store_id == resolve_store(args["store"]).id)
    if args.get("since"):
        stmt = stmt.where(AuditLog.at >= args["since"])
    if args.get("until"):
        stmt = stmt.where(AuditLog.at < args["until"])
    before = decode_cursor(args.get("cursor"))
    if before is not None:
        stmt = stmt.where(AuditLog.id < before)
    limit = args["limit"]
    rows = list(db.session.scalars(stmt.order_by(AuditLog.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor}


# --- data-subject requests ------------------------------------------------------------------------------

@endpoint(bp, "/privacy/requests", "POST", body=RequestIn, response=RequestOut, status=201, errors=(400, 401, 403, 404),
          summary="Log a customer's request to see, correct, export or delete their data (due in 30 days)")
def open_request(body):
    store = resolve_store(body.pop("store", None))
    customer = load_visible(body["customer_id"]) if body.get("customer_id") else None
    who = principal()
    row = req_svc.open_request(db.session, store, body["kind"], customer=customer, channel=body.get("channel"),
                               note=body.get("note"), user=who.user)
    db.session.commit()
    return row, 201


@endpoint(bp, "/privacy/requests", "GET", role="manager", query=RequestQuery, response=RequestOut, paginated=True,
          errors=(400, 401, 403), summary="List data-subject requests (overdue=true: open past the due date)")
def list_requests(args):
    from core.api.http import keyset_page
    from core.privacy.models import PrivacyRequest

    ids = [resolve_store(args["store"]).id] if args.get("store") else principal().store_ids()
    stmt = req_svc.requests_query(store_ids=ids, status=args.get("status"), overdue=args["overdue"],
                                  kind=args.get("kind"))
    rows, next_cursor = keyset_page(stmt, PrivacyRequest.id, args.get("cursor"), args["limit"])
    return {"items": rows, "next_cursor": next_cursor}


@endpoint(bp, "/privacy/requests/<int:request_id>", "PATCH", role="manager", body=RequestClose, response=RequestOut,
          errors=(400, 401, 403, 404, 409), summary="Close a data-subject request as done or rejected")
def close_request(request_id, body):
    row = req_svc.get_request(db.session, request_id)
    who = principal()
    ids = who.store_ids()
    if ids is not None and row.store_id not in ids:
        raise NotFound(f"privacy request {request_id} not found")
    req_svc.close_request(db.session, row, body["status"], resolution=body.get("resolution"), user=who.user)
    db.session.commit()
    return row


# --- retention ---------------------------------------------------------------------------------------------

@endpoint(bp, "/privacy/retention", "GET", role="manager", query=RetentionQuery, response=RetentionOut,
          errors=(400, 401, 403, 404), summary="A store's retention period (days; null keeps data)")
def read_retention(args):
    store = resolve_store(args.get("store"))
    return {"store": store.code, "retention_days": get_retention(db.session, store)}


@endpoint(bp, "/privacy/retention", "PUT", role="owner", body=RetentionIn, response=RetentionOut,
          errors=(400, 401, 403, 404), summary="Set a store's retention period: inactive customers are then erased")
def write_retention(body):
    store = resolve_store(body.get("store"))
    set_retention(db.session, store, body["retention_days"], user=principal().user)
    db.session.commit()
    return {"store": store.code, "retention_days": body["retention_days"]}
