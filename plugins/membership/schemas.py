"""marshmallow schemas: the per-store settings and the membership API's input and output."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugins.membership.models import ENTRY_KINDS, QUALIFICATIONS, QUALIFY_BY, REFUND_DOWNGRADES

Money = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731
Rate = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731


class Strict(Schema):
    class Meta:
        ordered = True


class InStore(Strict):
    """A body a person (not a till) sends names the store it acts in, as every plugin route needs."""

    store = fields.String(load_only=True, metadata={"description": "store code (a till's token implies it)"})


class MembershipSettings(Strict):
    """Per store: which perks this store's till offers. The program itself is chain-wide. Each
    is honoured on every path (quote, sale, batch, import, refund): off, it has no effect."""

    redemption_enabled = fields.Boolean(load_default=True, metadata={
        "description": "points as payment at this till", "label": _l("Points as payment")})
    birthday_discount_enabled = fields.Boolean(load_default=True, metadata={"label": _l("Birthday discount")})
    birthday_points_enabled = fields.Boolean(load_default=True, metadata={"label": _l("Birthday points multiplier")})
    member_days_enabled = fields.Boolean(load_default=True, metadata={"label": _l("Member days (discounts and points)")})
    member_price_enabled = fields.Boolean(load_default=True, metadata={"label": _l("Member price on full-price goods")})
    tier_discount_enabled = fields.Boolean(load_default=True, metadata={
        "label": _l("Standing tier discount at this till (the largest member discount wins)")})
    priority_complaints_first = fields.Boolean(load_default=True, metadata={
        "label": _l("Priority-service members first in the complaint queue")})


# --- program, tiers, member days -------------------------------------------------------------------

class ProgramSchema(InStore):
    qualification = fields.String(validate=validate.OneOf(QUALIFICATIONS))
    qualify_by = fields.String(validate=validate.OneOf(QUALIFY_BY), metadata={
        "description": "what reaches a tier: spend (threshold), purchases (min_purchases) or either"})
    refund_downgrade = fields.String(validate=validate.OneOf(REFUND_DOWNGRADES))
    review_month = fields.Integer(validate=validate.Range(min=1, max=12))
    review_day = fields.Integer(validate=validate.Range(min=1, max=31))
    last_review_on = fields.Date(dump_only=True, allow_none=True)  # None until the first yearly review
    expiry_years = fields.Integer(validate=validate.Range(min=0, max=10),
                                  metadata={"description": "points expire at the end of the year this many years on; 0 = never"})
    points_per_yuan_redeemed = fields.Integer(validate=validate.Range(min=1, max=100000))
    redeem_max_percent = Rate(validate=validate.Range(min=0, max=100))
    birthday_points_multiplier = Rate(validate=validate.Range(min=1, max=10))
    birthday_window_days = fields.Integer(validate=validate.Range(min=0, max=15))
    timezone = fields.String(validate=validate.Length(min=1, max=64))


class TierIn(InStore):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), validate.Regexp(r"^[a-z0-9_]+$")])
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    threshold = Money(required=True, validate=validate.Range(min=0, max=100_000_000))
    min_purchases = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000),
                                   metadata={"description": "purchases that reach the tier (when the program counts them)"})
    points_rate = Rate(required=True, validate=validate.Range(min=0, max=100))
    birthday_discount_percent = Rate(load_default=None, validate=validate.Range(min=0, max=100))
    full_price_discount_percent = Rate(load_default=None, validate=validate.Range(min=0, max=100))
    standing_discount_percent = Rate(load_default=None, validate=validate.Range(min=0, max=100))
    perks = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20))
    active = fields.Boolean()


class TierPatch(TierIn):
    class Meta:
        ordered = True

    code = fields.String(validate=validate.Length(min=1, max=32))
    name = fields.String(validate=validate.Length(min=1, max=100))
    threshold = Money(validate=validate.Range(min=0, max=100_000_000))
    points_rate = Rate(validate=validate.Range(min=0, max=100))
    birthday_discount_percent = Rate(validate=validate.Range(min=0, max=100))
    full_price_discount_percent = Rate(validate=validate.Range(min=0, max=100))
    standing_discount_percent = Rate(validate=validate.Range(min=0, max=100))


class TierOut(Strict):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    threshold = Money()
    min_purchases = fields.Integer(allow_none=True)
    points_rate = Rate()
    birthday_discount_percent = Rate()
    full_price_discount_percent = Rate()
    standing_discount_percent = Rate()
    perks = fields.List(fields.String())
    active = fields.Boolean()


class MemberDayIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    weekday = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=6),
                             metadata={"description": "0 = Monday … 6 = Sunday"})
    day_of_month = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=31))
    discount_percent = Rate(load_default=None, validate=validate.Range(min=0, max=100))
    points_multiplier = Rate(load_default=None, validate=validate.Range(min=1, max=10))
    only_store = fields.String(allow_none=True, metadata={"description": "a store code; absent = every store"})
    active = fields.Boolean(load_default=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def one_rule(self, data, **kwargs):
        if data.get("weekday") is None and data.get("day_of_month") is None:
            raise ValidationError("Give a weekday or a day of the month.", field_name="weekday")


class MemberDayPatch(MemberDayIn):
    name = fields.String(validate=validate.Length(min=1, max=100))
    active = fields.Boolean()

    @validates_schema
    def one_rule(self, data, **kwargs):
        return None


class MemberDayOut(Strict):
    id = fields.Integer()
    name = fields.String()
    weekday = fields.Integer(allow_none=True)
    day_of_month = fields.Integer(allow_none=True)
    discount_percent = Rate()
    points_multiplier = Rate()
    store_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    note = fields.String(allow_none=True)


# --- members ---------------------------------------------------------------------------------------

class PointsEntryOut(Strict):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(ENTRY_KINDS)})
    points = fields.Integer()
    remaining = fields.Integer()
    expires_on = fields.Date(allow_none=True)
    reason = fields.String()
    sale_id = fields.Integer(allow_none=True)
    refund_id = fields.Integer(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    actor = fields.String()
    created_at = fields.AwareDateTime()
    unrecovered = fields.Function(lambda e: (e.data or {}).get("unrecovered"), allow_none=True, metadata={
        "description": "a refund's reversal: points it could not take back (already spent or expired)"})
    expired = fields.Function(lambda e: (e.data or {}).get("expired"), allow_none=True, metadata={
        "description": "points paid for refunded goods whose lot had expired meanwhile: gone, not given back"})


class TierBrief(Strict):
    code = fields.String()
    name = fields.String()
    threshold = Money()
    min_purchases = fields.Integer(allow_none=True)
    points_rate = Rate()
    birthday_discount_percent = Rate()
    perks = fields.List(fields.String())


class ExpiringOut(Strict):
    expires_on = fields.Date(allow_none=True)
    points = fields.Integer()


class MemberOut(Strict):
    customer_id = fields.Integer()
    member = fields.Boolean()
    tier = fields.Nested(TierBrief, allow_none=True)
    tier_locked = fields.Boolean()
    enrolled_at = fields.AwareDateTime(allow_none=True)
    enrolled_by = fields.String(allow_none=True)
    points_balance = fields.Integer()
    lifetime_spend = Money()
    qualifying_spend = Money()
    qualifying_purchases = fields.Integer()
    qualification = fields.String()
    qualify_by = fields.String()
    next_tier = fields.Nested(TierBrief, allow_none=True)
    spend_to_next_tier = Money(allow_none=True)
    purchases_to_next_tier = fields.Integer(allow_none=True)
    expiring = fields.List(fields.Nested(ExpiringOut))
    ledger = fields.List(fields.Nested(PointsEntryOut), metadata={"description": "the 50 latest entries; all via /ledger"})


class PointsAdjustmentIn(InStore):
    points = fields.Integer(required=True, validate=validate.Range(min=-10_000_000, max=10_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class RedemptionIn(InStore):
    points = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    reason = fields.String(load_default="gift", validate=validate.Length(min=1, max=300))


class TierLockIn(InStore):
    locked = fields.Boolean(required=True)
    tier = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "set this tier too"})


class MembershipLedgerQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()
    store = fields.String()


class MembershipStoreQuery(Strict):
    store = fields.String()


class MembershipEnrolIn(InStore):
    pass
