"""marshmallow schemas: the per-store settings and the inventory API's input and output."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.schemas import Quantity as CoreQuantity
from plugins.inventory.models import MOVE_KINDS, ORDER_STATUSES, STOCKTAKE_STATUSES, TRANSFER_STATUSES

Money = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731
# Quantities go over the wire as JSON numbers (2, 0.5), as the core's sale lines do (api.md).
Quantity = lambda **kw: CoreQuantity(allow_nan=False, **kw)  # noqa: E731
MAX_QTY = Decimal("10000000")


class Strict(Schema):
    class Meta:
        ordered = True


class InStore(Strict):
    """A body a person (not a till) sends names the store it acts in."""

    store = fields.String(load_only=True, metadata={"description": "store code (a till's token implies it)"})


class InventorySettings(Strict):
    """Per store. Every number is a default a manager can change."""

    allow_negative_stock = fields.Boolean(load_default=True, metadata={
        "description": "sell below zero (true) or refuse the sale with a 422 naming the SKU (false)"})
    default_safety_stock = Quantity(load_default=Decimal("5"), validate=validate.Range(min=Decimal(0), max=MAX_QTY),
                                    metadata={"description": "safety stock of products without their own"})
    default_lead_time_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=365))
    review_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=365), metadata={
        "description": "days of sales an order should cover beyond the lead time"})
    velocity_days = fields.Integer(load_default=28, validate=validate.Range(min=1, max=365), metadata={
        "description": "days of sales the velocity is measured over"})
    dead_stock_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=3650))


# --- queries -------------------------------------------------------------------------------------------

class StoreQuery(Strict):
    store = fields.String()


class PageQuery(StoreQuery):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class StockQuery(PageQuery):
    sku = fields.String()
    category = fields.String()
    below_safety = fields.Boolean(metadata={"description": "only products under their safety stock"})


class MovesQuery(PageQuery):
    sku = fields.String()
    kind = fields.String(validate=validate.OneOf(MOVE_KINDS))


class AlertsQuery(PageQuery):
    open = fields.Boolean(metadata={"description": "true: only open alerts; false: only cleared ones"})


class AnalysisQuery(StoreQuery):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=730))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


# --- stock and moves -------------------------------------------------------------------------------------

class StockOut(Strict):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    barcode = fields.String(allow_none=True)
    level = Quantity(metadata={"description": "the sum of the moves"})
    in_transit = Quantity()
    on_order = Quantity(metadata={"description": "ordered from suppliers (sent, not yet received)"})
    safety_stock = Quantity()
    safety_stock_is_default = fields.Boolean()
    max_level = Quantity(allow_none=True)
    lead_time_days = fields.Integer(allow_none=True)
    supplier_id = fields.Integer(allow_none=True)
    below_safety = fields.Boolean()
    unit_cost = Money(allow_none=True)
    value = Money(metadata={"description": "level × unit cost (0 when the level is not positive)"})


class StockSettingsIn(InStore):
    safety_stock = Quantity(allow_none=True, validate=validate.Range(min=Decimal(0), max=MAX_QTY),
                            metadata={"description": "null: the store's default"})
    max_level = Quantity(allow_none=True, validate=validate.Range(min=Decimal(0), max=MAX_QTY))
    lead_time_days = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=365))
    supplier_id = fields.Integer(allow_none=True)


class ItemRef(Strict):
    sku = fields.String(validate=validate.Length(min=1, max=64))
    barcode = fields.String(validate=validate.Length(min=1, max=64))

    @validates_schema
    def one_reference(self, data, **kwargs):
        if not data.get("sku") and not data.get("barcode"):
            raise ValidationError("Give a sku or a barcode.", field_name="sku")


class MoveIn(InStore, ItemRef):
    kind = fields.String(required=True, validate=validate.OneOf(("receipt", "adjustment")))
    quantity = Quantity(required=True, validate=validate.Range(min=-MAX_QTY, max=MAX_QTY))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))
    unit_cost = Money(allow_none=True, validate=validate.Range(min=0, max=10_000_000))


class MoveOut(Strict):
    id = fields.Integer()
    sku = fields.String()
    kind = fields.String(metadata={"enum": list(MOVE_KINDS)})
    kind_label = fields.String()
    quantity = Quantity()
    balance_after = Quantity(metadata={"description": "the level after this move (sum of the moves up to it)"})
    unit_cost = Money(allow_none=True)
    reason = fields.String()
    sale_id = fields.Integer(allow_none=True)
    refund_id = fields.Integer(allow_none=True)
    purchase_order_id = fields.Integer(allow_none=True)
    transfer_id = fields.Integer(allow_none=True)
    stocktake_id = fields.Integer(allow_none=True)
    actor = fields.String()
    occurred_at = fields.AwareDateTime()


class AlertOut(Strict):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    level = Quantity(metadata={"description": "the level when the alert was raised"})
    current_level = Quantity()
    safety_stock = Quantity()
    raised_at = fields.AwareDateTime()
    cleared_at = fields.AwareDateTime(allow_none=True)
    open = fields.Boolean()
    notified = fields.Boolean()


# --- suppliers and purchase orders ----------------------------------------------------------------------

class SupplierIn(InStore):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(allow_none=True, validate=validate.Length(max=100))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    email = fields.Email(allow_none=True)
    lead_time_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=365))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    active = fields.Boolean(load_default=True)


class SupplierPatch(SupplierIn):
    name = fields.String(validate=validate.Length(min=1, max=200))
    lead_time_days = fields.Integer(validate=validate.Range(min=0, max=365))
    active = fields.Boolean()


class SupplierOut(Strict):
    id = fields.Integer()
    name = fields.String()
    contact = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    lead_time_days = fields.Integer()
    note = fields.String(allow_none=True)
    active = fields.Boolean()


class OrderLineIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Quantity(required=True, validate=validate.Range(min=Decimal(0), max=MAX_QTY, min_inclusive=False))
    unit_cost = Money(allow_none=True, validate=validate.Range(min=0, max=10_000_000),
                      metadata={"description": "default: the product's cost"})


class PurchaseOrderIn(InStore):
    supplier_id = fields.Integer(required=True)
    lines = fields.List(fields.Nested(OrderLineIn), validate=validate.Length(max=500))
    from_suggestions = fields.Boolean(load_default=False, metadata={
        "description": "fill the lines with this supplier's reorder suggestions"})
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ReceiptLineIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Quantity(required=True, validate=validate.Range(min=Decimal(0), max=MAX_QTY, min_inclusive=False))


class ReceiptIn(InStore):
    lines = fields.List(fields.Nested(ReceiptLineIn), validate=validate.Length(max=500),
                        metadata={"description": "absent: everything still outstanding"})


class OrderActionIn(InStore):
    pass


class OrderLineOut(Strict):
    sku = fields.String()
    name = fields.String()
    quantity = Quantity()
    unit_cost = Money()
    received_quantity = Quantity()
    outstanding = Quantity()


class PurchaseOrderOut(Strict):
    id = fields.Integer()
    store = fields.String()
    supplier_id = fields.Integer()
    supplier = fields.String()
    status = fields.String(metadata={"enum": list(ORDER_STATUSES)})
    status_label = fields.String()
    note = fields.String(allow_none=True)
    total_cost = Money()
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    received_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    emailed_to = fields.String(allow_none=True)
    email_error = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineOut))


class SuggestionOut(Strict):
    sku = fields.String()
    name = fields.String()
    level = Quantity()
    on_order = Quantity()
    in_transit = Quantity()
    safety_stock = Quantity()
    max_level = Quantity(allow_none=True)
    daily_sales = Quantity()
    lead_time_days = fields.Integer()
    method = fields.String(metadata={"enum": ["min_max", "velocity"]})
    quantity = Quantity(metadata={"description": "suggested order quantity"})
    supplier_id = fields.Integer(allow_none=True)
    unit_cost = Money(allow_none=True)


# --- stocktakes ------------------------------------------------------------------------------------------

class StocktakeIn(InStore):
    category = fields.String(allow_none=True, validate=validate.Length(min=1, max=100),
                             metadata={"description": "count only this category"})
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class CountIn(InStore):
    barcode = fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "the product's barcode (its SKU is accepted too)"})
    quantity = Quantity(load_default=Decimal("1"), validate=validate.Range(min=Decimal(0), max=MAX_QTY), metadata={
        "description": "added to what was counted of this item before (a scanner posts 1 per scan)"})
    replace = fields.Boolean(load_default=False, metadata={"description": "set the count instead of adding to it"})


class StocktakeLineOut(Strict):
    sku = fields.String()
    name = fields.String()
    barcode = fields.String(allow_none=True)
    counted = Quantity()
    expected = Quantity(metadata={"description": "the level when the item was first counted"})
    variance = Quantity()
    unit_cost = Money(allow_none=True)
    variance_value = Money()
    first_counted_at = fields.AwareDateTime()


class UncountedOut(Strict):
    sku = fields.String()
    name = fields.String()
    level = Quantity()


class StocktakeOut(Strict):
    id = fields.Integer()
    store = fields.String()
    category = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(STOCKTAKE_STATUSES)})
    status_label = fields.String()
    opened_at = fields.AwareDateTime()
    opened_by = fields.String()
    posted_at = fields.AwareDateTime(allow_none=True)
    lines = fields.List(fields.Nested(StocktakeLineOut))
    uncounted = fields.List(fields.Nested(UncountedOut), metadata={
        "description": "products in scope with stock that nobody counted (not adjusted when posting)"})
    variance_value = Money()


# --- transfers -------------------------------------------------------------------------------------------

class TransferLineIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Quantity(required=True, validate=validate.Range(min=Decimal(0), max=MAX_QTY, min_inclusive=False))


class TransferIn(InStore):
    to_store = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lines = fields.List(fields.Nested(TransferLineIn), required=True, validate=validate.Length(min=1, max=500))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class TransferLineOut(Strict):
    sku = fields.String()
    name = fields.String()
    quantity = Quantity()


class TransferOut(Strict):
    id = fields.Integer()
    from_store = fields.String()
    to_store = fields.String()
    status = fields.String(metadata={"enum": list(TRANSFER_STATUSES)})
    status_label = fields.String()
    note = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime(allow_none=True)
    lines = fields.List(fields.Nested(TransferLineOut))


# --- analysis --------------------------------------------------------------------------------------------

class TurnoverOut(Strict):
    sku = fields.String()
    name = fields.String()
    category = fields.String(allow_none=True)
    level = Quantity()
    sold = Quantity(metadata={"description": "units sold less refunded in the period"})
    average_level = Quantity()
    turnover = Quantity(allow_none=True, metadata={"description": "sold ÷ average level; null when nothing was stocked"})
    days_of_cover = Quantity(allow_none=True, metadata={"description": "level ÷ daily sales; null when nothing sold"})
    value = Money()
    last_sale_at = fields.AwareDateTime(allow_none=True)


class AnalysisOut(Strict):
    days = fields.Integer()
    stock_value = Money()
    products = fields.List(fields.Nested(TurnoverOut))
    best = fields.List(fields.Nested(TurnoverOut))
    slowest = fields.List(fields.Nested(TurnoverOut))
    dead = fields.List(fields.Nested(TurnoverOut))
    dead_stock_days = fields.Integer()
