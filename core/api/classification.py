"""Classification endpoints: a customer's classes with their reasons, and the thresholds."""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import fields, validate

from core.api.customers import load_visible
from core.api.http import endpoint, principal, resolve_store
from core.api.schemas import Strict
from core.classification.models import CHAIN_SCOPE
from core.classification.reasons import explain_scope, interests
from core.classification.settings import SettingsSchema, save_settings, settings_for, stored_settings
from core.errors import Forbidden
from core.extensions import db
from core.models import Store

bp = Blueprint("classification", __name__)
bp.storecrm_tag = "classification"


class ClassificationQuery(Strict):
    store = fields.String(metadata={"description": "only this store (and the chain)"})
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "zh", "zh_CN"]))


class ScopeOut(Strict):
    scope = fields.String(metadata={"description": "a store code, or chain"})
    store = fields.String(allow_none=True)
    window_days = fields.Integer()
    amount_class = fields.String(allow_none=True)
    frequency_class = fields.String(allow_none=True)
    final_class = fields.String()
    lifecycle = fields.String()
    rfm_segment = fields.String()
    r_score = fields.Integer(allow_none=True)
    f_score = fields.Integer(allow_none=True)
    m_score = fields.Integer(allow_none=True)
    amount = fields.String(metadata={"description": "net spend in the window (after refunds)"})
    purchases = fields.Integer()
    purchases_ever = fields.Integer()
    rank = fields.Integer(allow_none=True, metadata={"description": "spend rank among the scope's buying customers"})
    buyers = fields.Integer(allow_none=True)
    population = fields.Integer()
    days_since_last = fields.Integer(allow_none=True)
    usual_gap_days = fields.Float(allow_none=True)
    first_purchase_at = fields.DateTime(allow_none=True)
    last_purchase_at = fields.DateTime(allow_none=True)
    computed_at = fields.DateTime(allow_none=True)
    thresholds = fields.Dict()
    reasons = fields.Dict(keys=fields.String(), values=fields.String())
    summary = fields.String()


class InterestItem(Strict):
    name = fields.String()
    quantity = fields.Float()
    purchases = fields.Integer()


class InterestsOut(Strict):
    window_days = fields.Integer()
    categories = fields.List(fields.Nested(InterestItem))
    brands = fields.List(fields.Nested(InterestItem))
    hobbies = fields.List(fields.String())


class ClassificationOut(Strict):
    customer_id = fields.Integer()
    stores = fields.List(fields.Nested(ScopeOut))
    chain = fields.Nested(ScopeOut)
    interests = fields.Nested(InterestsOut)


class SettingsQuery(Strict):
    store = fields.String(metadata={"description": "a store code; without it the chain's settings (owners)"})


class SettingsOut(Strict):
    store = fields.String(allow_none=True)
    stored = fields.Dict(metadata={"description": "what this record sets itself"})
    effective = fields.Nested(SettingsSchema)


@endpoint(bp, "/customers/<int:customer_id>/classification", "GET",
          summary="Every class of the customer with its reason in numbers, per store and chain-wide",
          query=ClassificationQuery, response=ClassificationOut, errors=(400, 401, 403, 404))
def customer_classification(customer_id, args):
    customer = load_visible(customer_id)
    who = principal()
    lang = args["lang"]
    if args.get("store") or who.store is not None:
        stores = [resolve_store(args.get("store"))]
    else:
        ids = who.store_ids()
        query = db.session.query(Store).order_by(Store.code)
        stores = list(query if ids is None else query.filter(Store.id.in_(ids)))
    return {
        "customer_id": customer.id,
        "stores": [explain_scope(db.session, customer.id, s.id, lang) for s in stores],
        "chain": explain_scope(db.session, customer.id, CHAIN_SCOPE, lang),
        "interests": interests(db.session, customer, None),
    }


def _settings_target(code: str | None):
    """(store or None for the chain); the chain's record is the owner's to change."""
    if code:
        return resolve_store(code)
    if not principal().is_owner:
        raise Forbidden("the chain's classification settings are the owner's")
    return None


def _settings_answer(store):
    scope = store.id if store else CHAIN_SCOPE
    return {"store": store.code if store else None, "stored": stored_settings(db.session, store.id if store else None),
            "effective": settings_for(db.session, scope)}


@endpoint(bp, "/classification/settings", "GET", summary="Classification thresholds of a store or the chain",
          query=SettingsQuery, response=SettingsOut, role="manager", errors=(400, 401, 403, 404),
          operation_id="getClassificationSettings", etag=lambda: _settings_answer(_settings_target(request.args.get("store"))))
def get_settings(args):
    return _settings_answer(_settings_target(args.get("store")))


@endpoint(bp, "/classification/settings", "PUT",
          summary="Set a store's (or, for owners, the chain's) classification thresholds; validated, fields omitted fall back",
          query=SettingsQuery, response=SettingsOut, role="manager", errors=(400, 401, 403, 404, 412),
          doc_body=SettingsSchema, operation_id="putClassificationSettings", etag=lambda: _settings_answer(_settings_target(request.args.get("store"))))
def put_settings(args):
    from core.audit import audit
    from core.errors import InvalidInput

    store = _settings_target(args.get("store"))
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object.", fields={"_body": ["Send JSON."]})
    save_settings(db.session, store.id if store else None, payload)
    audit("classification_settings", actor=principal().user, store=store, details={"settings": payload})
    db.session.commit()
    return _settings_answer(store)


class RecomputeOut(Strict):
    queued = fields.Boolean(metadata={"description": "true: a background job was queued (202)"})
    job_id = fields.String(metadata={"optional": True, "description": "the queued job (202)"})
    scopes = fields.List(fields.Dict(), metadata={"optional": True, "description": "what the run computed, per "
                                                                                   "scope (200)"})


@endpoint(bp, "/classification/recompute", "POST",
          summary="Recompute every class now (the nightly job), in the background when Redis is configured",
          role="manager", errors=(401, 403), doc_response=RecomputeOut, also=(202,),
          operation_id="recomputeClasses")
def recompute():
    from core.classification.jobs import nightly_recompute
    from core.jobs import jobs

    queue = jobs()
    db.session.commit()  # the job runs in its own session (at once without Redis): release ours
    job_id = "storecrm-classification-recompute"
    result = queue.enqueue(nightly_recompute, job_id=job_id)
    if queue.uses_redis:
        # None: Redis is down and the job waits in the database; it is handed over when Redis is back.
        return {"queued": True, "job_id": job_id, "parked": result is None}, 202
    return {"queued": False, "scopes": result}
