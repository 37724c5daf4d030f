"""Classification thresholds: a settings record per store, and one for the chain (store NULL),
validated by a marshmallow schema on every write. A store without its own record uses the
chain's; the chain's falls back to domain.md's defaults."""

from __future__ import annotations

import json
from functools import lru_cache

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from core.classification.models import CHAIN_SCOPE, ClassificationSettings
from core.errors import InvalidInput
from core.services.store_plugins import flatten_errors


class SettingsSchema(Schema):
    window_days = fields.Integer(load_default=365, validate=validate.Range(min=7, max=3660),
                                 metadata={"description": "spend and purchases count over this many days"})
    amount_mode = fields.String(load_default="percentile", validate=validate.OneOf(["percentile", "absolute"]))
    high_percent = fields.Integer(load_default=20, validate=validate.Range(min=1, max=99))
    medium_percent = fields.Integer(load_default=30, validate=validate.Range(min=1, max=99),
                                    metadata={"description": "the next N% after the high ones"})
    high_min_amount = fields.Decimal(load_default=None, allow_none=True, as_string=True, places=2,
                                     validate=validate.Range(min=0))
    medium_min_amount = fields.Decimal(load_default=None, allow_none=True, as_string=True, places=2,
                                       validate=validate.Range(min=0))
    frequent_min = fields.Integer(load_default=12, validate=validate.Range(min=2, max=10000))
    occasional_min = fields.Integer(load_default=3, validate=validate.Range(min=2, max=10000))
    lifecycle_mode = fields.String(load_default="days", validate=validate.OneOf(["days", "percentile"]))
    new_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=3660))
    at_risk_days = fields.Integer(load_default=60, validate=validate.Range(min=1, max=3660))
    gap_factor = fields.Float(load_default=2.0, validate=validate.Range(min=1.0, max=20.0))
    churned_days = fields.Integer(load_default=180, validate=validate.Range(min=2, max=3660))
    at_risk_percentile = fields.Integer(load_default=40, validate=validate.Range(min=1, max=99))
    churned_percentile = fields.Integer(load_default=80, validate=validate.Range(min=2, max=99))
    rfm_min_population = fields.Integer(load_default=500, validate=validate.Range(min=0, max=10_000_000),
                                        metadata={"description": "below this many buying customers, R uses fixed bands"})
    recency_bands = fields.List(fields.Integer(validate=validate.Range(min=1)), load_default=lambda: [60, 120, 240, 300],
                                validate=validate.Length(equal=4),
                                metadata={"description": "upper days of R=5, 4, 3, 2; beyond the last R=1"})

    chain_timezone = fields.String(load_default="Asia/Shanghai", validate=lambda tz: _is_timezone(tz),
                                   metadata={"description": "the chain's calendar for its windows and nightly "
                                                            "cut-off (stores use their own timezone)"})

    @validates_schema
    def _coherent(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if data.get("high_percent", 20) + data.get("medium_percent", 30) > 100:
            errors["medium_percent"] = ["high_percent + medium_percent must be at most 100."]
        if data.get("occasional_min", 3) >= data.get("frequent_min", 12):
            errors["occasional_min"] = ["Must be below frequent_min."]
        if data.get("at_risk_days", 60) >= data.get("churned_days", 180):
            errors["at_risk_days"] = ["Must be below churned_days."]
        if data.get("at_risk_percentile", 40) >= data.get("churned_percentile", 80):
            errors["at_risk_percentile"] = ["Must be below churned_percentile."]
        bands = data.get("recency_bands") or [60, 120, 240, 300]
        if any(later <= earlier for earlier, later in zip(bands, bands[1:])):
            errors["recency_bands"] = ["Must be four increasing day counts."]
        if data.get("amount_mode") == "absolute":
            high, medium = data.get("high_min_amount"), data.get("medium_min_amount")
            if high is None:
                errors["high_min_amount"] = ["Required when amount_mode is absolute."]
            if medium is None:
                errors["medium_min_amount"] = ["Required when amount_mode is absolute."]
            if high is not None and medium is not None and medium >= high:
                errors["medium_min_amount"] = ["Must be below high_min_amount."]
        if errors:
            raise ValidationError(errors)


def _is_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown timezone {name!r} (e.g. Asia/Shanghai).") from None
    return True


DEFAULTS = SettingsSchema().load({})


def _row(session, store_id: int | None) -> ClassificationSettings | None:
    cond = ClassificationSettings.store_id.is_(None) if store_id is None else ClassificationSettings.store_id == store_id
    return session.scalars(select(ClassificationSettings).where(cond)).first()


def settings_for(session, scope_id: int) -> dict:
    """Effective settings of a scope (a store id, or CHAIN_SCOPE): its own record over the
    chain's over the defaults, loaded (Decimals, ints)."""
    chain = _row(session, None)
    merged = dict(chain.settings) if chain else {}
    if scope_id != CHAIN_SCOPE:
        own = _row(session, scope_id)
        if own:
            merged.update(own.settings)
    return loaded(merged)


def loaded(document: dict) -> dict:
    """The stored settings document validated and loaded. Every sale asks for its store's and
    the chain's; validating the same document each time was a good part of the per-sale update,
    so a document is loaded once per process (keyed by its content: a change is a new key)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in _load_document(json.dumps(document, sort_keys=True)).items()}


@lru_cache(maxsize=256)
def _load_document(document_json: str) -> dict:
    return SettingsSchema().load(json.loads(document_json))


def stored_settings(session, store_id: int | None) -> dict:
    row = _row(session, store_id)
    return dict(row.settings) if row else {}


def save_settings(session, store_id: int | None, values: dict) -> dict:
    """Validate and store a full settings document for a store (or the chain: None).
    A bad value is InvalidInput with the field and the reason; nothing is stored then."""
    schema = SettingsSchema()
    try:
        loaded = schema.load(values)
    except ValidationError as exc:
        raise InvalidInput("invalid classification settings", fields=flatten_errors(exc.messages)) from exc
    dumped = {k: v for k, v in schema.dump(loaded).items() if k in values}
    row = _row(session, store_id)
    if row is None:
        row = ClassificationSettings(store_id=store_id, settings={})
        session.add(row)
    row.settings = dumped
    # Cuts taken under the old percentages would misclassify the next sales: drop them, so the
    # next sale computes them again on demand (the chain's settings are every store's default).
    from sqlalchemy import delete

    from core.classification.models import ClassificationCut

    cuts = delete(ClassificationCut)
    session.execute(cuts if store_id is None else cuts.where(ClassificationCut.scope_id == store_id))
    session.flush()
    return settings_for(session, CHAIN_SCOPE if store_id is None else store_id)
