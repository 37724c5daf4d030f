"""The floor of the sale-ingest benchmark (quality.md): an endpoint that validates the same
JSON with the same schema and writes the same rows (customer when new, sale, lines,
adjustments, payments, event) with SQLAlchemy Core in one transaction. No ORM, no plugins:
what the hardware and the database can do, to which the real endpoint is compared.

Only the benchmark server mounts it (bench/server.py); it is not part of the app."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, jsonify, request
from sqlalchemy import insert, select

from core.api.http import schema_instance
from core.api.schemas import SaleBatchIn, SaleIn
from core.crypto import cipher
from core.extensions import db
from core.models import ApiToken, Customer, Event, Product, Sale, SaleAdjustment, SaleLine, SalePayment, money, utcnow
from core.services.phones import normalise_phone

bp = Blueprint("bench_floor", __name__, url_prefix="/bench/floor")
ZERO = Decimal("0.00")


def _store_id(conn) -> int:
    header = request.headers.get("Authorization", "")
    row = conn.execute(select(ApiToken.store_id).where(ApiToken.token_hash == ApiToken.hash(header[7:].strip()),
                                                       ApiToken.revoked_at.is_(None))).first()
    if row is None or row.store_id is None:
        abort(401)
    return row.store_id


def _write(conn, store_id: int, data: dict) -> int:
    """One sale through Core; returns its id, or the existing one for a known external_id."""
    existing = conn.execute(select(Sale.id).where(Sale.store_id == store_id,
                                                  Sale.external_id == data.get("external_id"))).scalar()
    if existing:
        return existing
    skus = {line["sku"] for line in data["lines"]}
    products = {r.sku: r for r in conn.execute(select(Product.sku, Product.id, Product.price).where(Product.sku.in_(skus)))}
    lines, subtotal = [], ZERO
    for i, line in enumerate(data["lines"]):
        if line["sku"] not in products:
            abort(400)
        unit_price = money(line["unit_price"]) if line.get("unit_price") is not None else products[line["sku"]].price
        discount = money(line.get("discount") or 0)
        amount = money(Decimal(str(line["quantity"])) * unit_price) - discount
        subtotal += amount
        lines.append({"position": i, "product_id": products[line["sku"]].id, "sku": line["sku"], "name": line["sku"],
                      "quantity": line["quantity"], "unit_price": unit_price, "discount": discount, "amount": amount,
                      "allocated_adjustment": ZERO, "refunded_quantity": 0, "full_price": discount == 0})
    adjustment_total = sum((money(a["amount"]) for a in data.get("adjustments") or []), ZERO)
    customer_id = None
    if data.get("customer") and data["customer"].get("phone"):
        phone = normalise_phone(data["customer"]["phone"])
        hashed = cipher().lookup_hash(phone)
        customer_id = conn.execute(select(Customer.id).where(Customer.phone_hash == hashed)).scalar()
        if customer_id is None:
            now = utcnow()
            customer_id = conn.execute(insert(Customer).values(
                name="", phone=phone, phone_hash=hashed, hobbies=[], preferences={}, source_channel="till",
                home_store_id=store_id, created_at=now, updated_at=now).returning(Customer.id)).scalar()
    now = utcnow()
    sale_id = conn.execute(insert(Sale).values(
        store_id=store_id, customer_id=customer_id, external_id=data.get("external_id"),
        occurred_at=data.get("occurred_at") or now, channel=data.get("channel") or "store", status="completed",
        subtotal=subtotal, adjustment_total=adjustment_total, total=subtotal + adjustment_total,
        refunded_total=ZERO, note=data.get("note"), created_at=now).returning(Sale.id)).scalar()
    conn.execute(insert(SaleLine), [{**line, "sale_id": sale_id} for line in lines])
    if data.get("adjustments"):
        conn.execute(insert(SaleAdjustment), [{"sale_id": sale_id, "source": a["source"], "code": a["code"],
                                               "label": a.get("label"), "amount": money(a["amount"]),
                                               "data": a.get("data") or {}} for a in data["adjustments"]])
    if data.get("payments"):
        conn.execute(insert(SalePayment), [{"sale_id": sale_id, "method": p["method"], "amount": money(p["amount"]),
                                            "data": p.get("data") or {}} for p in data["payments"]])
    conn.execute(insert(Event).values(store_id=store_id, name="sale_recorded", subject_type="sale", subject_id=sale_id,
                                      payload={}, created_at=now))
    return sale_id


@bp.post("/sales")
def floor_sale():
    data = schema_instance(SaleIn).load(request.get_json())  # reused, as the app's endpoints do
    with db.engine.begin() as conn:
        sale_id = _write(conn, _store_id(conn), data)
    return jsonify({"id": sale_id}), 201


@bp.post("/sales/batch")
def floor_batch():
    body = schema_instance(SaleBatchIn).load(request.get_json())
    schema = schema_instance(SaleIn)
    results = []
    with db.engine.begin() as conn:
        store_id = _store_id(conn)
        for index, raw in enumerate(body["sales"]):
            results.append({"index": index, "status": 201, "id": _write(conn, store_id, schema.load(raw))})
    return jsonify({"results": results})
