"""/api/v1/inventory/…: stock, moves, alerts, analysis, suppliers and reorder suggestions
(purchase orders, stocktakes and transfers are in api_flows.py, on the same blueprint).

Mounted with `core.api.plugin_blueprint`: every route answers 404 in a store that has not
enabled inventory. A person's token names the store with `?store=` or the body's `store`."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app, g
from sqlalchemy import select

from core.api import plugin_blueprint
from core.api.http import decode_cursor, encode_cursor, endpoint, principal
from core.errors import Forbidden, NotFound
from core.extensions import db
from core.models import Product
from core.plugins import HookContext
from plugins.inventory.hooks import staff_notifier
from plugins.inventory.labels import MOVE_KIND_LABELS, label
from plugins.inventory.models import Alert, Stock, Supplier
from plugins.inventory.schemas import (
    AlertOut, AlertsQuery, AnalysisOut, AnalysisQuery, MoveIn, MoveOut, MovesQuery, StockOut, StockQuery,
    StockSettingsIn, StoreQuery, SuggestionOut, SupplierIn, SupplierOut, SupplierPatch,
)
from plugins.inventory.services import analysis as analysis_svc
from plugins.inventory.services import ledger, purchasing, stock

bp = plugin_blueprint("inventory", __name__)
MAX_ID = 2**31 - 1


def hook_ctx() -> HookContext:
    who = principal()
    return HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                       registry=current_app.extensions["storecrm.plugins"], plugin="inventory")


def settings() -> dict:
    return hook_ctx().settings()


def effects() -> dict:
    """What every stock change needs: the store's default safety stock and the managers' notifier."""
    ctx = hook_ctx()
    return {"default_safety": Decimal(ctx.settings()["default_safety_stock"]), "notify": staff_notifier(ctx)}


def who() -> dict:
    caller = principal()
    return {"user": caller.user, "actor": caller.name}


def row_or_404(model, row_id: int, what: str):
    row = db.session.get(model, row_id) if row_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


# --- stock -------------------------------------------------------------------------------------------

@endpoint(bp, "/stock", "GET", summary="Stock per SKU: level (the sum of its moves), safety stock, on order, in transit",
          query=StockQuery, response=StockOut, paginated=True, errors=(400, 401, 403, 404))
def get_stock(args):
    items, last = stock.list_stock(db.session, g.store.id, Decimal(settings()["default_safety_stock"]),
                                   sku=args.get("sku"), category=args.get("category"),
                                   below_safety=args.get("below_safety"), after_product_id=decode_cursor(args.get("cursor")),
                                   limit=args["limit"])
    return {"items": items, "next_cursor": encode_cursor(last) if last is not None else None}


@endpoint(bp, "/stock/<sku>", "PUT", summary="Set a product's safety stock, max level, lead time and supplier here (manager)",
          body=StockSettingsIn, response=StockOut, role="manager", errors=(400, 401, 403, 404))
def put_stock_settings(sku, body):
    body.pop("store", None)
    product = db.session.scalars(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"no product {sku}")
    stock.set_stock_settings(db.session, g.store.id, product, body, **effects())
    db.session.commit()
    items, _last = stock.list_stock(db.session, g.store.id, Decimal(settings()["default_safety_stock"]), sku=sku)
    return items[0]


# --- moves -------------------------------------------------------------------------------------------

def move_dict(move, sku, balance_after) -> dict:
    return {"id": move.id, "sku": sku, "kind": move.kind, "kind_label": label(MOVE_KIND_LABELS, move.kind),
            "quantity": move.quantity, "balance_after": balance_after, "unit_cost": move.unit_cost,
            "reason": move.reason, "sale_id": move.sale_id, "refund_id": move.refund_id,
            "purchase_order_id": move.purchase_order_id, "transfer_id": move.transfer_id,
            "stocktake_id": move.stocktake_id, "actor": move.actor, "occurred_at": move.occurred_at}


@endpoint(bp, "/moves", "GET", summary="The ledger: every move of the store (or of one SKU), oldest first, with the level after it",
          query=MovesQuery, response=MoveOut, paginated=True, errors=(400, 401, 403, 404))
def get_moves(args):
    product_id = None
    if args.get("sku"):
        product = db.session.scalars(select(Product).where(Product.sku == args["sku"])).first()
        if product is None:
            return {"items": [], "next_cursor": None}
        product_id = product.id
    rows, last = stock.moves_page(db.session, g.store.id, product_id=product_id, kind=args.get("kind"),
                                  after_id=decode_cursor(args.get("cursor")), limit=args["limit"])
    return {"items": [move_dict(*row) for row in rows], "next_cursor": encode_cursor(last) if last else None}


@endpoint(bp, "/moves", "POST", summary="Book a receipt without an order, or an adjustment (manager), with its reason",
          body=MoveIn, response=MoveOut, status=201, errors=(400, 401, 403, 404))
def post_move(body):
    if body["kind"] == "adjustment" and not principal().at_least("manager"):
        raise Forbidden("an adjustment needs the manager role")
    product = stock.find_product(db.session, sku=body.get("sku"), barcode=body.get("barcode"))
    move = ledger.post_move(db.session, g.store, product, kind=body["kind"], quantity=body["quantity"],
                            reason=body["reason"], unit_cost=body.get("unit_cost"), **who(), **effects())
    balance = ledger.ledger_level(db.session, g.store.id, product.id)
    result = move_dict(move, product.sku, balance)
    db.session.commit()
    return result, 201


# --- alerts ------------------------------------------------------------------------------------------

@endpoint(bp, "/alerts", "GET", summary="Safety-stock alerts of the store, oldest first (open=true: the ones standing)",
          query=AlertsQuery, response=AlertOut, paginated=True, errors=(400, 401, 403, 404))
def get_alerts(args):
    stmt = (select(Alert, Product, Stock.quantity).join(Product, Product.id == Alert.product_id)
            .outerjoin(Stock, (Stock.store_id == Alert.store_id) & (Stock.product_id == Alert.product_id))
            .where(Alert.store_id == g.store.id))
    if args.get("open") is True:
        stmt = stmt.where(Alert.cleared_at.is_(None))
    elif args.get("open") is False:
        stmt = stmt.where(Alert.cleared_at.is_not(None))
    after = decode_cursor(args.get("cursor"))
    if after is not None:
        stmt = stmt.where(Alert.id > after)
    rows = db.session.execute(stmt.order_by(Alert.id).limit(args["limit"] + 1)).all()
    items = [{"id": a.id, "sku": p.sku, "name": p.name, "level": a.level, "current_level": level or Decimal("0"),
              "safety_stock": a.safety_stock, "raised_at": a.raised_at, "cleared_at": a.cleared_at,
              "open": a.cleared_at is None, "notified": a.notified} for a, p, level in rows[:args["limit"]]]
    more = len(rows) > args["limit"]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if more else None}


# --- analysis ----------------------------------------------------------------------------------------

@endpoint(bp, "/analysis", "GET", summary="Turnover and days of cover per product, best and slowest sellers, dead stock, stock value",
          query=AnalysisQuery, response=AnalysisOut, errors=(400, 401, 403, 404))
def get_analysis(args):
    return analysis_svc.analysis(db.session, g.store.id, days=args["days"], limit=args["limit"],
                                 dead_stock_days=settings()["dead_stock_days"])


# --- suppliers and suggestions -----------------------------------------------------------------------------

@endpoint(bp, "/suppliers", "GET", summary="Suppliers (shared by the chain)", query=StoreQuery, response=SupplierOut,
          many=True, errors=(401, 403, 404))
def list_suppliers(args):
    return list(db.session.scalars(select(Supplier).order_by(Supplier.name, Supplier.id)))


@endpoint(bp, "/suppliers", "POST", summary="Add a supplier (manager)", body=SupplierIn, response=SupplierOut, status=201,
          role="manager", errors=(400, 401, 403, 404))
def create_supplier(body):
    body.pop("store", None)
    supplier = purchasing.save_supplier(db.session, body)
    db.session.commit()
    return supplier, 201


@endpoint(bp, "/suppliers/<int:supplier_id>", "PATCH", summary="Change a supplier (manager)", body=SupplierPatch,
          response=SupplierOut, role="manager", errors=(400, 401, 403, 404))
def patch_supplier(supplier_id, body):
    body.pop("store", None)
    supplier = purchasing.save_supplier(db.session, body, row_or_404(Supplier, supplier_id, "supplier"))
    db.session.commit()
    return supplier


@endpoint(bp, "/reorder-suggestions", "GET", summary="What to order now: min/max or sales velocity × lead time, most urgent first",
          query=StoreQuery, response=SuggestionOut, many=True, errors=(401, 403, 404))
def get_suggestions(args):
    return purchasing.suggestions(db.session, g.store.id, settings())
