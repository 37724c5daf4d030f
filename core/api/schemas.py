"""marshmallow schemas of the core API: what comes in is validated, what goes out is described."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.fields import Decimals, Id, Money, Name, SmallObject, Timestamp
from core.models.customer import CONSENT_CHANNELS, SOURCE_CHANNELS
from core.models.sale import PAYMENT_METHODS, SALE_STATUSES

GENDERS = ("male", "female", "other", "unknown")

QUANTITY_MAX = 100_000
UNIT_PRICE_MAX = 10_000_000


class Quantity(fields.Decimal):
    """Loaded as Decimal; written as a JSON number (2, 0.5), as api.md says quantities are."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)


class Strict(Schema):
    class Meta:
        ordered = True


# --- customers --------------------------------------------------------------------------------------

class ConsentIn(Strict):
    channel = fields.String(required=True, validate=validate.OneOf(CONSENT_CHANNELS))
    granted = fields.Boolean(required=True)
    source = fields.String(load_default="api", validate=validate.Length(max=64))
    proof = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class CustomerIn(Strict):
    code = fields.String(allow_none=True, validate=validate.Length(max=64))
    name = Name()
    gender = fields.String(allow_none=True, validate=validate.OneOf(GENDERS))
    birthday = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD, or --MM-DD when the year is unknown"})
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    email = fields.Email(allow_none=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    wechat_id = fields.String(allow_none=True, validate=validate.Length(max=100))
    occupation = fields.String(allow_none=True, validate=validate.Length(max=200))
    household = fields.String(allow_none=True, validate=validate.Length(max=200))
    personality = fields.String(allow_none=True, validate=validate.Length(max=200))
    hobbies = fields.List(fields.String(validate=validate.Length(max=100)), validate=validate.Length(max=50))
    needs = fields.String(allow_none=True, validate=validate.Length(max=2000))
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    preferences = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                              values=fields.String(validate=validate.Length(max=500)))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50))
    source_channel = fields.String(allow_none=True, validate=validate.OneOf(SOURCE_CHANNELS))
    home_store = fields.String(allow_none=True)
    consents = fields.List(fields.Nested(ConsentIn), load_only=True)


class CustomerCreate(CustomerIn):
    name = Name(required=True)
    store = fields.String(load_default=None, metadata={"description": "store code (user tokens)"})


class CustomerPatch(CustomerIn):
    pass


class ConsentOut(Strict):
    channel = fields.String(metadata={"enum": list(CONSENT_CHANNELS)})
    purpose = fields.String()
    granted = fields.Boolean()
    source = fields.String()
    at = fields.AwareDateTime()


class CustomerOut(Strict):
    id = fields.Integer()
    code = fields.String(allow_none=True)
    name = fields.String()
    gender = fields.String(allow_none=True, metadata={"enum": [*GENDERS, None]})
    birthday = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "masked (138****8000) unless the caller may see it"})
    email = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    wechat_id = fields.String(allow_none=True)
    occupation = fields.String(allow_none=True)
    household = fields.String(allow_none=True)
    personality = fields.String(allow_none=True)
    hobbies = fields.List(fields.String())
    needs = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    preferences = fields.Dict(keys=fields.String(), values=fields.String())
    tags = fields.List(fields.String())
    source_channel = fields.String(allow_none=True, metadata={"enum": [*SOURCE_CHANNELS, None]})
    home_store = fields.String(allow_none=True)
    consents = fields.List(fields.Nested(ConsentOut))
    linked = fields.Boolean(metadata={"optional": True, "description": "lookups by full phone or card: false for a customer of the chain "
                                                     "this store does not see yet (masked, no profile; serve them here)"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    erased = fields.Boolean(metadata={"optional": True,
                                      "description": "true only for a tombstone: an erased customer in a sync "
                                                     "(updated_since), with nothing but id, erased and erased_at"})
    erased_at = fields.AwareDateTime(allow_none=True, metadata={"optional": True})


class CustomerQuery(Strict):
    phone = fields.String(metadata={"description": "the full phone number (any common spelling): finds any customer "
                                                   "of the chain"})
    code = fields.String(validate=validate.Length(max=64),
                         metadata={"description": "the full card number: finds any customer of the chain"})
    q = fields.String(validate=validate.Length(max=100))
    tag = fields.String()
    store = fields.String()
    final_class = fields.String()
    lifecycle = fields.String()
    amount_class = fields.String()
    frequency_class = fields.String()
    rfm_segment = fields.String()
    reveal = fields.Boolean(load_default=False)
    updated_since = Timestamp(metadata={"description": "sync: customers changed at or after this time, erased ones "
                                                       "as tombstones {id, erased: true, erased_at}"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class ServeHereIn(Strict):
    store = fields.String(load_default=None, metadata={"description": "store code (user tokens)"})
    phone = fields.String(validate=validate.Length(max=40), metadata={"description": "the full phone number presented"})
    code = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "the card number presented"})

    @validates_schema
    def phone_or_code(self, data, **kwargs):
        if not data.get("phone") and not data.get("code"):
            raise ValidationError("Give the full phone number or the card number.", field_name="phone")


class ConsentChange(ConsentIn):
    pass


# --- catalogue --------------------------------------------------------------------------------------

class ProductIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    barcode = fields.String(allow_none=True, validate=validate.Length(max=64))
    name = Name(required=True)
    category = fields.String(allow_none=True, validate=validate.Length(max=100))
    brand = fields.String(allow_none=True, validate=validate.Length(max=100))
    price = Money(required=True, validate=validate.Range(min=0, max=UNIT_PRICE_MAX))
    cost = Money(allow_none=True, validate=validate.Range(min=0, max=UNIT_PRICE_MAX))
    attributes = SmallObject(keys=fields.String(), values=fields.String())
    active = fields.Boolean(load_default=True)


class ProductPatch(ProductIn):
    sku = fields.String(validate=validate.Length(min=1, max=64))
    name = Name()
    price = Money(validate=validate.Range(min=0, max=UNIT_PRICE_MAX))


class ProductOut(Strict):
    id = fields.Integer()
    sku = fields.String()
    barcode = fields.String(allow_none=True)
    name = fields.String()
    category = fields.String(allow_none=True)
    brand = fields.String(allow_none=True)
    price = Money()
    cost = Money(allow_none=True)
    attributes = fields.Dict()
    active = fields.Boolean()
    updated_at = fields.AwareDateTime()


class ProductQuery(Strict):
    q = fields.String(validate=validate.Length(max=100))
    category = fields.String()
    updated_since = Timestamp(metadata={"description": "sync: products added or changed at or after this time"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


# --- sales ------------------------------------------------------------------------------------------

class CustomerRef(Strict):
    id = Id()
    code = fields.String(validate=validate.Length(max=64))
    phone = fields.String(validate=validate.Length(max=40))
    name = Name()

    @validates_schema
    def one_key(self, data, **kwargs):
        if not any(k in data for k in ("id", "code", "phone")):
            raise ValidationError("Give id, code or phone.")


class SaleLineIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Decimals(required=True, places=3,
                        validate=validate.Range(min=0, min_inclusive=False, max=QUANTITY_MAX))
    unit_price = Money(validate=validate.Range(min=0, max=UNIT_PRICE_MAX))
    discount = Money(load_default=None, validate=validate.Range(min=0))


class AdjustmentIn(Strict):
    source = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    label = fields.String(allow_none=True, validate=validate.Length(max=200))
    amount = Money(required=True, validate=validate.Range(min=-10_000_000, max=10_000_000))
    data = SmallObject()


class PaymentIn(Strict):
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    amount = Money(required=True, validate=validate.Range(min=0, max=10_000_000))
    data = SmallObject(metadata={"description": "what the payment terminal returned; at most 2,000 characters as JSON"})


class SaleIn(Strict):
    store = fields.String()
    external_id = fields.String(validate=validate.Length(min=1, max=100))
    occurred_at = Timestamp(metadata={"description": "from 2000 to at most the store's allowed clock skew "
                                                     "(1 day by default) ahead of now"})
    customer = fields.Nested(CustomerRef, allow_none=True)
    staff = fields.String(allow_none=True, validate=validate.Length(max=80))
    channel = fields.String(validate=validate.Length(max=32))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    lines = fields.List(fields.Nested(SaleLineIn), required=True, validate=validate.Length(min=1, max=500))
    adjustments = fields.List(fields.Nested(AdjustmentIn), validate=validate.Length(max=50), metadata={
        "description": "the adjustments of `POST /sales/quote` for this cart and these options, as they are: the sale "
                       "is recorded only when they equal what the store's modules compute now (else 422)"})
    options = fields.Dict(metadata={"description": "what the till asks the modules for, as in the quote, e.g. "
                                                   "{\"redeem_points\": 500}; without `adjustments` the sale gets the "
                                                   "computed ones"})
    payments = fields.List(fields.Nested(PaymentIn), validate=validate.Length(max=20))


class SaleBatchIn(Strict):
    store = fields.String()
    # Loaded one by one (each sale gets its own result), documented as what each one is.
    sales = fields.List(fields.Dict(metadata={"x-ref": "SaleIn"}), required=True,
                        validate=validate.Length(min=1, max=1000),
                        metadata={"description": "the sales, each as for POST /sales (`store` is the batch's)"})


class SaleBatchResult(Strict):
    index = fields.Integer(metadata={"description": "the sale's position in `sales`"})
    status = fields.Integer(metadata={"description": "201 recorded; 200 recorded before (same external_id and "
                                                     "sale); 4xx refused (see `error`); 500 not recorded, send "
                                                     "it again later", "enum": [200, 201, 400, 403, 404, 409, 422, 500]})
    id = fields.Integer(metadata={"optional": True, "description": "the sale's id (200 and 201)"})
    external_id = fields.String(allow_none=True, metadata={"optional": True})
    error = fields.Dict(metadata={"optional": True, "x-ref": "ErrorDetail", "description": "why (4xx and 500)"})


class SaleBatchOut(Strict):
    results = fields.List(fields.Nested(SaleBatchResult), metadata={"description": "one per sale, in order"})


class QuoteIn(Strict):
    store = fields.String()
    customer = fields.Nested(CustomerRef, allow_none=True)
    lines = fields.List(fields.Nested(SaleLineIn), required=True, validate=validate.Length(min=1, max=500))
    options = SmallObject(metadata={"description": "plugin options, e.g. {\"redeem_points\": 500, \"coupon\": \"ABC\"}"})


class AdjustmentOut(Strict):
    source = fields.String()
    code = fields.String()
    label = fields.String(allow_none=True)
    amount = Money()
    data = fields.Dict()


class QuoteOut(Strict):
    subtotal = Money()
    adjustments = fields.List(fields.Nested(AdjustmentOut))
    total = Money()
    unavailable = fields.List(fields.String(), metadata={"description": "plugins whose quote failed (logged); "
                                                                        "their perks are missing from this quote"})
    warnings = fields.List(fields.Nested(AdjustmentOut), metadata={
        "description": "what the till should tell before payment (e.g. too little stock); amount 0, not to be posted"})


class SaleLineOut(Strict):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = Quantity()
    unit_price = Money()
    discount = Money()
    amount = Money()
    refunded_quantity = Quantity()


class PaymentOut(Strict):
    method = fields.String(metadata={"enum": list(PAYMENT_METHODS)})
    amount = Money()


class SaleBrief(Strict):
    """A sale as a refund's answer carries it (the effects are the refund's, beside it)."""

    id = fields.Integer()
    store = fields.String()
    external_id = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime()
    customer_id = fields.Integer(allow_none=True)
    staff = fields.String(allow_none=True)
    channel = fields.String(metadata={"description": "where it was sold: `store` unless the till said otherwise"})
    status = fields.String(metadata={"enum": list(SALE_STATUSES)})
    lines = fields.List(fields.Nested(SaleLineOut))
    adjustments = fields.List(fields.Nested(AdjustmentOut))
    payments = fields.List(fields.Nested(PaymentOut))
    subtotal = Money()
    adjustment_total = Money()
    total = Money()
    refunded_total = Money()
    updated_at = fields.AwareDateTime(metadata={"description": "recorded, or last refunded"})


class SaleOut(SaleBrief):
    effects = fields.Dict(metadata={"description": "what each enabled plugin did, keyed by plugin"})


class RefundLineIn(Strict):
    sku = fields.String(validate=validate.Length(min=1, max=64),
                        metadata={"description": "fills that SKU's lines on the sale in order"})
    line_id = Id(metadata={"description": "a line of the sale (its `lines[].id`)"})
    quantity = Decimals(required=True, places=3, validate=validate.Range(min=0, min_inclusive=False, max=QUANTITY_MAX))

    @validates_schema
    def one_key(self, data, **kwargs):
        if ("sku" in data) == ("line_id" in data):
            raise ValidationError("Give sku or line_id.")


class RefundIn(Strict):
    reason = fields.String(load_default="", validate=validate.Length(max=500))
    lines = fields.List(fields.Nested(RefundLineIn), validate=validate.Length(min=1, max=500))


class RefundOut(Strict):
    id = fields.Integer()
    sale_id = fields.Integer()
    reason = fields.String()
    amount = Money()
    created_at = fields.AwareDateTime()
    sale = fields.Nested(SaleBrief)
    effects = fields.Dict(metadata={"description": "what each enabled plugin did, keyed by plugin"})


class VisitIn(Strict):
    store = fields.String()
    occurred_at = Timestamp()
    customer = fields.Nested(CustomerRef, allow_none=True)
    staff = fields.String(allow_none=True, validate=validate.Length(max=80))
    purpose = fields.String(allow_none=True, validate=validate.Length(max=200))
    duration_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=24 * 60))
    products_viewed = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=100))
    notes = fields.String(allow_none=True, validate=validate.Length(max=2000))
    purchased = fields.Boolean(load_default=False)


class VisitOut(Strict):
    id = fields.Integer()
    store = fields.String()
    customer_id = fields.Integer(allow_none=True)
    occurred_at = fields.AwareDateTime()
    purpose = fields.String(allow_none=True)
    purchased = fields.Boolean()
    effects = fields.Dict()


# --- stores and plugins -------------------------------------------------------------------------------

class StoreIn(Strict):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), validate.Regexp(r"^[A-Za-z0-9_-]+$")])
    name = Name(required=True)
    timezone = fields.String(load_default="Asia/Shanghai", validate=validate.Length(max=64))
    currency = fields.String(load_default="CNY", validate=validate.Length(equal=3))
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    sale_clock_ahead_minutes = fields.Integer(
        load_default=24 * 60, validate=validate.Range(min=0, max=7 * 24 * 60),
        metadata={"description": "how far ahead of now a sale's occurred_at may be (a till's clock running fast)"})
    staff_discount_limit_percent = fields.Decimal(
        allow_none=True, places=2, as_string=True, validate=validate.Range(min=0, max=100),
        metadata={"description": "largest line discount a till or staff member may type, % of the catalogue price; "
                                 "null: no limit"})
    manager_discount_limit_percent = fields.Decimal(
        allow_none=True, places=2, as_string=True, validate=validate.Range(min=0, max=100),
        metadata={"description": "the same for a manager; owners have no limit"})
    sandbox = fields.Boolean(
        load_default=False,
        metadata={"description": "a test store: its data stays out of chain figures and other stores' campaigns, "
                                 "its webhook events go to its own subscriptions only, and an owner may reset it "
                                 "(docs/api.md, Sandbox)"})


class StorePatch(StoreIn):
    code = fields.String(dump_only=True)
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String()
    currency = fields.String(validate=validate.Length(equal=3))
    # No defaults in a PATCH: a field left out keeps its value.
    sale_clock_ahead_minutes = fields.Integer(validate=validate.Range(min=0, max=7 * 24 * 60))
    sandbox = fields.Boolean()


class StoreOut(Strict):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    timezone = fields.String()
    currency = fields.String()
    address = fields.String(allow_none=True)
    sale_clock_ahead_minutes = fields.Integer()
    staff_discount_limit_percent = fields.Decimal(allow_none=True, as_string=True)
    manager_discount_limit_percent = fields.Decimal(allow_none=True, as_string=True)
    sandbox = fields.Boolean(metadata={"description": "a test store (docs/api.md, Sandbox)"})


class SandboxResetOut(Strict):
    store = fields.String(metadata={"description": "the sandbox store's code"})
    deleted = fields.Dict(keys=fields.String(), values=fields.Integer(),
                          metadata={"description": "rows deleted per table (tables with none left out)"})


class PluginOut(Strict):
    name = fields.String()
    version = fields.String()
    summary = fields.String()
    depends = fields.List(fields.String())
    enabled = fields.Boolean(metadata={"optional": True, "description": "in a store's list: whether it is on there"})
    error = fields.String(allow_none=True, metadata={"optional": True,
                                                     "description": "in the instance's list: why it failed to load"})


class PluginToggle(Strict):
    enabled = fields.Boolean(required=True)


class PageOf(Strict):
    next_cursor = fields.String(allow_none=True)
