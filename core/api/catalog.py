"""Products and stores: the catalogue a till sells from, and the chain's branches."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from core.api.http import endpoint, principal, schema_instance
from core.api.schemas import (
    ProductIn, ProductOut, ProductPatch, ProductQuery, SandboxResetOut, StoreIn, StoreOut, StorePatch,
)
from core.api.http import keyset_page
from core.audit import audit
from core.errors import Conflict, NotFound
from core.extensions import db
from core.models import Product, Store
from core.webhooks.routing import forget_webhook_routes

bp = Blueprint("catalog", __name__)
bp.storecrm_tag = "catalogue"


@endpoint(bp, "/products", "POST", summary="Add a product", body=ProductIn, response=ProductOut, status=201,
          role="manager", errors=(400, 401, 403, 409))
def create_product(body):
    product = Product(**body)
    db.session.add(product)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("a product with this SKU or barcode exists", fields={"sku": ["Already in use."]}) from exc
    return product, 201


@endpoint(bp, "/products", "GET", summary="List products", query=ProductQuery, response=ProductOut, paginated=True,
          errors=(400, 401))
def list_products(args):
    stmt = select(Product)
    if args.get("q"):
        stmt = stmt.where(or_(Product.name.contains(args["q"], autoescape=True), Product.sku == args["q"],
                              Product.barcode == args["q"]))
    if args.get("category"):
        stmt = stmt.where(Product.category == args["category"])
    if args.get("updated_since"):
        stmt = stmt.where(Product.updated_at >= args["updated_since"])
    rows, next_cursor = keyset_page(stmt, Product.id, args.get("cursor"), args["limit"])
    return {"items": rows, "next_cursor": next_cursor}


def load_product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def product_state(product_id: int) -> dict:
    return schema_instance(ProductOut).dump(load_product(product_id))


@endpoint(bp, "/products/<int:product_id>", "GET", summary="Read a product (with its ETag)", response=ProductOut,
          errors=(401, 404), etag=product_state)
def get_product(product_id):
    return load_product(product_id)


@endpoint(bp, "/products/<int:product_id>", "PATCH", summary="Change a product", body=ProductPatch,
          response=ProductOut, role="manager", errors=(400, 401, 403, 404, 409, 412), etag=product_state)
def patch_product(product_id, body):
    product = load_product(product_id)
    for key, value in body.items():
        setattr(product, key, value)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("a product with this SKU or barcode exists", fields={"sku": ["Already in use."]}) from exc
    return product


@endpoint(bp, "/stores", "GET", summary="Stores the caller works in", response=StoreOut, many=True, errors=(401,))
def list_stores():
    ids = principal().store_ids()
    stmt = select(Store).order_by(Store.code)
    if ids is not None:
        stmt = stmt.where(Store.id.in_(ids))
    return list(db.session.scalars(stmt))


@endpoint(bp, "/stores", "POST", summary="Open a store (owner)", body=StoreIn, response=StoreOut, status=201,
          role="owner", errors=(400, 401, 403, 409))
def create_store(body):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from core.errors import InvalidInput

    try:
        ZoneInfo(body["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("unknown time zone", fields={"timezone": [f"Unknown time zone {body['timezone']}."]}) from exc
    store = Store(**body)
    db.session.add(store)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"store {body['code']} exists", fields={"code": ["Already in use."]}) from exc
    audit("store_create", actor=principal().user, target=store, store=store)
    db.session.commit()
    return store, 201


@endpoint(bp, "/stores/<code>", "PATCH", summary="Change a store: name, address, line discount limits (owner)",
          body=StorePatch, response=StoreOut, role="owner", errors=(400, 401, 403, 404))
def update_store(code, body):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from core.errors import InvalidInput

    store = db.session.scalars(select(Store).where(Store.code == code)).first()
    if store is None:
        raise NotFound(f"store {code} not found")
    if "timezone" in body:
        try:
            ZoneInfo(body["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput("unknown time zone", fields={"timezone": [f"Unknown time zone {body['timezone']}."]}) from exc
    changes = {k: [str(getattr(store, k)), str(v)] for k, v in body.items() if getattr(store, k) != v}
    for key, value in body.items():
        setattr(store, key, value)
    audit("store_update", actor=principal().user, target=store, store=store, details={"changes": changes})
    db.session.commit()
    if "sandbox" in changes:
        forget_webhook_routes()
    return store


@endpoint(bp, "/stores/<code>/sandbox/reset", "POST", summary="Reset a sandbox (test) store (owner)",
          description="Deletes the test store's customers, sales, visits, events and every module's data there, in "
                      "one transaction; the store, its settings, users and tokens stay. A store that is not a "
                      "sandbox is a 409.", response=SandboxResetOut, role="owner", errors=(401, 403, 404, 409, 422))
def reset_sandbox_store(code):
    from core.services.sandbox import reset_sandbox

    store = db.session.scalars(select(Store).where(Store.code == code)).first()
    if store is None:
        raise NotFound(f"store {code} not found")
    deleted = reset_sandbox(db.session, store, user=principal().user, actor=principal().name)
    db.session.commit()
    return {"store": store.code, "deleted": deleted}
