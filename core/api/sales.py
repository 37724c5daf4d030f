"""Sales, quotes, refunds and visits: what a till posts."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, current_app
from marshmallow import ValidationError
from sqlalchemy import select

from core.access import customer_or_404
from core.api.http import endpoint, principal, resolve_store
from core.api.schemas import (
    QuoteIn, QuoteOut, RefundIn, RefundOut, SaleBatchIn, SaleBatchOut, SaleIn, SaleOut, VisitIn, VisitOut,
)
from core.api.serialize import sale_dict, sale_effects
from core.errors import InvalidInput, NotFound
from core.extensions import db
from core.models import Product, Sale, money
from core.services import pricing
from core.services import sales as svc
from core.services.counter import find_presented
from core.services.sales_batch import record_sales
from core.services.store_plugins import flatten_errors

bp = Blueprint("sales", __name__)
bp.storecrm_tag = "sales"


def load_sale(sale_id: int) -> Sale:
    sale = db.session.get(Sale, sale_id)
    if sale is None or not principal().can_act_in(sale.store):
        raise NotFound(f"sale {sale_id} not found")
    return sale


def answer(sale: Sale, actor: str | None = None) -> dict:
    who = principal()
    return {**sale_dict(sale), "effects": sale_effects(sale, user=who.user, actor=actor or who.name)}


@endpoint(bp, "/sales/quote", "POST", summary="Price a cart with the plugins' adjustments (nothing is written)",
          body=QuoteIn, response=QuoteOut, errors=(400, 401, 403), idempotent=False, operation_id="quoteSale",
          example={"store": "SH001", "customer": {"phone": "13800138000"},
                   "lines": [{"sku": "LATTE-M", "quantity": 2}], "options": {"redeem_points": 500}})
def quote(body):
    store = resolve_store(body.get("store"))
    who = principal()
    skus = {line["sku"] for line in body["lines"]}
    products = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))}
    lines, errors = [], {}
    for i, line in enumerate(body["lines"]):
        product = products.get(line["sku"])
        if product is None:
            errors[f"lines.{i}.sku"] = [f"Unknown product {line['sku']}."]
            continue
        unit_price = line.get("unit_price") if line.get("unit_price") is not None else product.price
        lines.append(pricing.cart_line(product, line["quantity"], unit_price, line.get("discount") or Decimal("0")))
    if errors:
        raise InvalidInput("the cart has invalid lines", fields=errors)
    customer = None
    if body.get("customer"):
        # A quote writes nothing: an unknown phone is simply a customer without perks.
        # An id names only a customer the caller sees (404); a full card or phone, anyone of the chain.
        ref = body["customer"]
        customer = (customer_or_404(ref["id"]) if ref.get("id") is not None
                    else find_presented(db.session, phone=ref.get("phone"), code=ref.get("code")))
    subtotal = sum((l["amount"] for l in lines), Decimal("0.00"))
    cart = {"lines": lines, "subtotal": subtotal, "options": body.get("options") or {}}
    reg = current_app.extensions["storecrm.plugins"]
    adjustments, unavailable = pricing.quote_adjustments(db.session, store, reg, cart, customer, user=who.user,
                                                         actor=who.name, recover=db.session.rollback)
    db.session.rollback()  # a quote never writes
    # An entry marked "warning" (e.g. inventory's "only 2 in stock") informs the till; it is no price change.
    warnings = [a for a in adjustments if a.get("warning")]
    adjustments = [a for a in adjustments if not a.get("warning")]
    total = subtotal + sum((money(a["amount"]) for a in adjustments), Decimal("0.00"))
    return {"subtotal": subtotal, "adjustments": adjustments, "total": max(total, Decimal("0.00")),
            "unavailable": unavailable, "warnings": warnings}


SALE_EXAMPLE = {"store": "SH001", "external_id": "till-3-000123", "occurred_at": "2026-11-22T10:15:00+08:00",
                "customer": {"phone": "13800138000"}, "staff": "alice",
                "lines": [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}],
                "options": {"redeem_points": 500}, "payments": [{"method": "wechat_pay", "amount": "51.00"}]}


@endpoint(bp, "/sales", "POST", summary="Record a sale; the same external_id again returns the first sale (200)",
          description="A re-post of an `external_id` must carry the same sale: with a different one it is a 422 "
                      "`external_id_reused` naming the fields that differ, and nothing is written.",
          body=SaleIn, response=SaleOut, status=201, errors=(400, 401, 403, 422), example=SALE_EXAMPLE)
def create_sale(body):
    store = resolve_store(body.pop("store", None))
    who = principal()
    actor = who.name
    # The answer is built from what the transaction wrote: its commit keeps the sale's rows
    # loaded (no reload, no second transaction; membership's figures are remembered too).
    session = db.session()
    session.expire_on_commit = False
    try:
        # The scoped session, as everywhere: plugins may call ctx.session() for the real one.
        sale, created = svc.record_sale(db.session, store, body, user=who.user, actor=actor)
    finally:
        session.expire_on_commit = True
    result = answer(sale, actor)
    # Committed already; only what a plugin's sale_result read or changed is left to end (an
    # empty commit would still expire every loaded row).
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        session.commit()
    return result, (201 if created else 200)


@endpoint(bp, "/sales/batch", "POST", summary="Up to 1,000 sales from a till that was offline; one result per sale",
          body=SaleBatchIn, response=SaleBatchOut, errors=(400, 401, 403))
def create_sales_batch(body):
    store = resolve_store(body.get("store"))
    who = principal()
    schema = SaleIn()
    results: list[dict | None] = []
    valid: list[tuple[int, dict]] = []
    for index, raw in enumerate(body["sales"]):
        try:
            valid.append((index, schema.load({k: v for k, v in raw.items() if k != "store"})))
            results.append(None)
        except ValidationError as exc:
            results.append({"index": index, "status": 400, "error": {"code": "validation_error", "message": "invalid sale",
                                                                     "fields": flatten_errors(exc.messages)}})
    outcomes = record_sales(db.session, store, [data for _, data in valid], user=who.user, actor=who.name)
    for (index, data), outcome in zip(valid, outcomes):
        if outcome.error is None:
            results[index] = {"index": index, "status": outcome.status, "id": outcome.sale_id,
                              "external_id": data.get("external_id")}
        else:
            exc = outcome.error
            results[index] = {"index": index, "status": exc.status,
                              "error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
    return {"results": results}


@endpoint(bp, "/sales/<int:sale_id>", "GET", summary="Read a sale", response=SaleOut, errors=(401, 404))
def get_sale(sale_id):
    return answer(load_sale(sale_id))


@endpoint(bp, "/sales/<int:sale_id>/refunds", "POST", summary="Refund some lines, or all that is not yet refunded",
          body=RefundIn, response=RefundOut, status=201, errors=(400, 401, 404, 422), operation_id="createRefund",
          example={"reason": "wrong size", "lines": [{"sku": "LATTE-M", "quantity": 1}]})
def refund(sale_id, body):
    who = principal()
    sale = db.session.scalars(select(Sale).where(Sale.id == sale_id).with_for_update()).first()
    if sale is None or not who.can_act_in(sale.store):
        raise NotFound(f"sale {sale_id} not found")
    refund_row = svc.refund_sale(db.session, sale, body, user=who.user, actor=who.name)
    db.session.commit()
    return {"id": refund_row.id, "sale_id": sale.id, "reason": refund_row.reason, "amount": refund_row.amount,
            "created_at": refund_row.created_at, "sale": sale_dict(sale),
            "effects": sale_effects(sale, user=who.user, actor=who.name)}, 201


@endpoint(bp, "/visits", "POST", summary="Record a visit", body=VisitIn, response=VisitOut, status=201,
          errors=(400, 401, 403))
def create_visit(body):
    store = resolve_store(body.pop("store", None))
    who = principal()
    visit = svc.record_visit(db.session, store, body, user=who.user, actor=who.name)
    db.session.commit()
    return {"id": visit.id, "store": store.code, "customer_id": visit.customer_id, "occurred_at": visit.occurred_at,
            "purpose": visit.purpose, "purchased": visit.purchased, "effects": {}}, 201
