"""marshmallow schemas: the per-store settings and the campaigns API's input and output."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.fields import TimeOfDay, Timestamp
from plugins.campaigns.models import CALL_OUTCOMES, CAMPAIGN_KINDS, COUPON_KINDS

Money = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731
MMDD = validate.Regexp(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", error="Use MM-DD.")


class Strict(Schema):
    class Meta:
        ordered = True


class InStore(Strict):
    store = fields.String(load_only=True, metadata={"description": "store code (a till's token implies it)"})


class Festival(Strict):
    date = fields.String(required=True, validate=MMDD)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class CampaignsSettings(Strict):
    """Per store: the frequency cap and quiet hours (seed 002), costs, coupon refunds and which
    care automations run."""

    monthly_cap = fields.Integer(load_default=2, validate=validate.Range(min=0, max=31),
                                 metadata={"description": "marketing messages per customer per calendar month"})
    unanswered_after = fields.Integer(load_default=3, validate=validate.Range(min=1, max=100),
                                      metadata={"description": "messages without a purchase since, before the reduced cap"})
    reduced_cap = fields.Integer(load_default=1, validate=validate.Range(min=0, max=31))
    quiet_start = TimeOfDay(load_default="21:00")
    quiet_end = TimeOfDay(load_default="08:00")
    care_time = TimeOfDay(load_default="10:00",
                              metadata={"label": _l("Care messages sent daily at (store time)"),
                                        "description": _l("HH:MM on the store's clock, outside quiet hours")})
    send_rate_per_minute = fields.Integer(load_default=600, validate=validate.Range(min=1, max=1_000_000))
    cost_email = fields.Decimal(load_default="0.0100", places=4, as_string=True)
    cost_sms = fields.Decimal(load_default="0.0500", places=4, as_string=True)
    cost_wechat = fields.Decimal(load_default="0.0000", places=4, as_string=True)
    refund_restores_coupon = fields.Boolean(load_default=True)
    care_channel = fields.String(load_default="outbox", validate=validate.Length(min=1, max=32))
    followup_mode = fields.String(load_default="call", validate=validate.OneOf(("call", "message")))
    birthday_greeting = fields.Boolean(load_default=True)
    first_purchase_followup = fields.Boolean(load_default=True)
    purchase_followup = fields.Boolean(load_default=False)
    festival_greetings = fields.Boolean(load_default=True)
    festivals = fields.List(fields.Nested(Festival), load_default=lambda: [
        {"date": "02-14", "name": "情人节"}, {"date": "10-01", "name": "国庆节"}])
    winback = fields.Boolean(load_default=True)
    second_visit_coupon = fields.Boolean(load_default=True)
    second_visit_amount = Money(load_default="10.00", validate=validate.Range(min=0, max=100000))
    referral_rewards = fields.Boolean(load_default=True)
    referral_amount = Money(load_default="20.00", validate=validate.Range(min=0, max=100000))

    @validates_schema(pass_original=True)
    def _care_time_outside_quiet_hours(self, data, original, **kwargs):
        # The day's care messages are worked out at care_time; in quiet hours nobody is greeted.
        # Only a time someone chose is refused: the default must never make stored settings invalid.
        care, start, end = data.get("care_time"), data.get("quiet_start"), data.get("quiet_end")
        chosen = isinstance(original, dict) and "care_time" in original
        if chosen and care and start and end and start != end and ((care >= start or care < end) if start > end
                                                                  else start <= care < end):
            raise ValidationError({"care_time": ["Choose a time outside quiet hours."]})


# --- segments ---------------------------------------------------------------------------------------

class SegmentIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    filters = fields.Dict(required=True, metadata={"description": "e.g. {\"final_class\": [\"loyal\"], "
                                                                   "\"last_purchase_days_min\": 60}"})


class SegmentOut(Strict):
    id = fields.Integer(allow_none=True, metadata={"description": "null for a count that was not saved"})
    name = fields.String()
    filters = fields.Dict()
    count = fields.Integer()


class StoreQuery(Strict):
    store = fields.String()


# --- coupons ----------------------------------------------------------------------------------------

class CouponBatchIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(COUPON_KINDS))
    value = Money(load_default=Decimal("0.00"), validate=validate.Range(min=0, max=1_000_000))
    gift = fields.String(load_default=None, validate=validate.Length(max=200))
    min_spend = Money(load_default=Decimal("0.00"), validate=validate.Range(min=0, max=1_000_000))
    valid_from = Timestamp(load_default=None)
    valid_until = Timestamp(load_default=None)
    valid_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))
    per_customer_limit = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))
    partner_stores = fields.List(fields.String(), load_default=list,
                                 metadata={"description": "codes of partner stores that may redeem (joint campaigns)"})
    partner_name = fields.String(load_default=None, validate=validate.Length(max=200))
    codes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000),
                           metadata={"description": "unassigned codes to print now"})

    @validates_schema
    def _sense(self, data, **kwargs):
        if data["kind"] == "percent" and not (0 < data["value"] <= 100):
            raise ValidationError({"value": ["A percent off is between 0 and 100."]})
        if data["kind"] == "amount" and data["value"] <= 0:
            raise ValidationError({"value": ["An amount off must be above zero."]})
        if data["kind"] == "gift" and not data.get("gift"):
            raise ValidationError({"gift": ["Name the gift."]})
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] <= data["valid_from"]:
            raise ValidationError({"valid_until": ["Must be after valid_from."]})


class CouponBatchOut(Strict):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    value = Money()
    gift = fields.String(allow_none=True)
    min_spend = Money()
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    per_customer_limit = fields.Integer()
    codes = fields.List(fields.String())


# --- campaigns --------------------------------------------------------------------------------------

class CampaignIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(load_default="theme", validate=validate.OneOf(CAMPAIGN_KINDS))
    segment_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    channel = fields.String(load_default="email", validate=validate.Length(min=1, max=32))
    subject_zh = fields.String(load_default="", validate=validate.Length(max=300))
    body_zh = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    subject_en = fields.String(load_default="", validate=validate.Length(max=300))
    body_en = fields.String(load_default="", validate=validate.Length(max=5000))
    coupon_batch_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    budget = Money(load_default=None, validate=validate.Range(min=0, max=100_000_000))
    cost_per_message = fields.Decimal(load_default=None, places=4, as_string=True, validate=validate.Range(min=0, max=100))
    cost_per_redemption = Money(load_default="0.00", validate=validate.Range(min=0, max=100000))
    control_percent = fields.Decimal(load_default="10", places=2, as_string=True, validate=validate.Range(min=0, max=90))
    attribution_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
    partner_name = fields.String(load_default=None, validate=validate.Length(max=200))
    scheduled_at = Timestamp(load_default=None)


class CampaignOut(Strict):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    channel = fields.String()
    status = fields.String()
    segment_id = fields.Integer()
    coupon_batch_id = fields.Integer(allow_none=True)
    budget = Money(allow_none=True)
    control_percent = fields.Decimal(as_string=True)
    audience_size = fields.Integer()
    excluded_no_consent = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    resume_at = fields.DateTime(allow_none=True)


class ReportOut(Strict):
    campaign = fields.Dict()
    sends = fields.Dict()
    budget = fields.Dict()
    groups = fields.Dict()
    effect = fields.Dict()
    before_after = fields.Dict()
    redemption = fields.Dict()
    roi = fields.Dict()


class UnsubscribeQuery(Strict):
    format = fields.String(load_default=None, validate=validate.OneOf(("html", "json")),
                           metadata={"description": "the answer's form; default: from the Accept header"})


class UnsubscribeOut(Strict):
    channel = fields.String()
    withdrawn = fields.Boolean()
    message = fields.String()


class ReplyIn(InStore):
    channel = fields.String(required=True, validate=validate.OneOf(("sms", "wechat", "email")))
    sender = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "the phone number, WeChat id or email that replied"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReplyOut(Strict):
    withdrawn = fields.Boolean()
    customer_id = fields.Integer(allow_none=True)


class CallOutcomeIn(InStore):
    outcome = fields.String(required=True, validate=validate.OneOf(CALL_OUTCOMES))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class CallTaskOut(Strict):
    id = fields.Integer()
    customer_id = fields.Integer()
    rule = fields.String()
    due_on = fields.Date()
    outcome = fields.String(allow_none=True)
    done_at = fields.DateTime(allow_none=True)
