"""marshmallow schemas: the per-store settings and the feedback API's input and output."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.fields import TimeOfDay
from plugins.feedback.models import CATEGORIES, CHANNELS, STATES

SLA_STATES = ("on_track", "due_soon", "overdue", "met", "missed")


ID = validate.Range(min=1, max=2**31 - 1)  # ids are 32-bit in the database


class Strict(Schema):
    class Meta:
        ordered = True


class InStore(Strict):
    store = fields.String(load_only=True, metadata={"description": "store code (a till's token implies it)"})


class FeedbackSettings(Strict):
    """Per store. Deadlines count elapsed time from the moment a complaint is made. `label` is
    what the admin's Modules page shows for each setting."""

    first_response_hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=720),
                                          metadata={"label": _l("First response within (hours)")})
    resolution_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90),
                                     metadata={"label": _l("Resolution within (days)")})
    due_soon_hours = fields.Integer(load_default=4, validate=validate.Range(min=0, max=72),
                                    metadata={"label": _l("Shown as due soon within (hours)")})
    survey_after_sale_days = fields.Integer(load_default=3, validate=validate.Range(min=0, max=60),
                                            metadata={"label": _l("Survey after a sale (days, 0 = off)")})
    survey_after_complaint_days = fields.Integer(load_default=1, validate=validate.Range(min=0, max=60),
                                                 metadata={"label": _l("Survey after a resolved complaint (days, 0 = off)")})
    survey_min_gap_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=365),
                                         metadata={"label": _l("At most one sale survey per customer every (days)")})
    survey_time = TimeOfDay(load_default="10:00",
                                metadata={"label": _l("Surveys sent daily at (store time, HH:MM)")})
    public_form_enabled = fields.Boolean(load_default=True, metadata={"label": _l("Public feedback form")})
    form_limit_per_ip = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1000),
                                       metadata={"label": _l("Form entries per address per 10 minutes")})
    form_limit_per_store = fields.Integer(load_default=200, validate=validate.Range(min=1, max=100000),
                                          metadata={"label": _l("Form entries per store per hour")})


# --- feedback ----------------------------------------------------------------------------------------

class FeedbackIn(InStore):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    text = fields.String(load_default="", validate=validate.Length(max=2000))
    channel = fields.String(load_default="comment_book", validate=validate.OneOf(CHANNELS))
    customer_id = fields.Integer(allow_none=True, strict=True, validate=ID)
    sale_id = fields.Integer(allow_none=True, strict=True, validate=ID)
    staff_id = fields.Integer(allow_none=True, strict=True, validate=ID)


class FeedbackOut(Strict):
    id = fields.Integer()
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    sale_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    rating = fields.Integer()
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    text = fields.String()
    created_at = fields.AwareDateTime()


class FeedbackQuery(Strict):
    store = fields.String()
    customer_id = fields.Integer(strict=False, validate=ID)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


# --- complaints --------------------------------------------------------------------------------------

class ComplaintIn(InStore):
    customer_id = fields.Integer(allow_none=True, strict=True, validate=ID)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    channel = fields.String(load_default="counter", validate=validate.OneOf(CHANNELS))
    sale_id = fields.Integer(allow_none=True, strict=True, validate=ID)
    staff_id = fields.Integer(allow_none=True, strict=True, validate=ID, metadata={"description": "the staff member it is about"})
    assignee_id = fields.Integer(allow_none=True, strict=True, validate=ID)


class CouponSpec(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(("amount", "percent")))
    value = fields.Decimal(required=True, as_string=True, places=2, allow_nan=False,
                           validate=validate.Range(min=0, min_inclusive=False, max=100000))
    valid_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
    min_spend = fields.Decimal(as_string=True, places=2, allow_nan=False, validate=validate.Range(min=0, max=1000000))


class ResolutionIn(Strict):
    apology = fields.Boolean(load_default=False)
    replacement = fields.String(load_default="", validate=validate.Length(max=500))
    compensation = fields.String(load_default="", validate=validate.Length(max=500))
    coupon = fields.Nested(CouponSpec, allow_none=True, load_default=None,
                           metadata={"description": "ask the coupon owner (campaigns) for a coupon"})


class TransitionIn(InStore):
    to = fields.String(required=True, validate=validate.OneOf(STATES))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    resolution = fields.Nested(ResolutionIn, allow_none=True, load_default=None,
                               metadata={"description": "what was done; required to resolve"})


class TransitionOut(Strict):
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    note = fields.String()
    actor = fields.String()
    at = fields.AwareDateTime()


class ComplaintOut(Strict):
    id = fields.Integer()
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    sale_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    channel = fields.String()
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    description = fields.String()
    state = fields.String(metadata={"enum": list(STATES)})
    allowed_transitions = fields.List(fields.String())
    sla_state = fields.String(metadata={"enum": list(SLA_STATES)})
    created_at = fields.AwareDateTime()
    first_response_due_at = fields.AwareDateTime()
    resolution_due_at = fields.AwareDateTime()
    first_response_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    reopened_count = fields.Integer()
    resolution = fields.Dict()
    acknowledgement = fields.String(allow_none=True)


class ComplaintDetailOut(ComplaintOut):
    history = fields.List(fields.Nested(TransitionOut))


class ComplaintQuery(Strict):
    store = fields.String()
    sla = fields.String(validate=validate.OneOf(SLA_STATES))
    state = fields.String(validate=validate.OneOf(STATES))
    customer_id = fields.Integer(strict=False, validate=ID)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()

    @validates_schema
    def _one(self, data, **kwargs):
        if data.get("sla") and data.get("state"):
            raise ValidationError("Filter by sla or by state, not both.", field_name="sla")


class StoreQuery(Strict):
    store = fields.String()
