"""/api/v1/inventory/… purchase orders, stocktakes and transfers (on api.py's blueprint).

Each is the store's own: an id of another store's order, count or transfer answers 404."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import select

from core.api.http import endpoint
from core.errors import NotFound, Unprocessable
from core.extensions import db
from core.models import Store
from plugins.inventory.api import bp, effects, settings, who
from plugins.inventory.models import PurchaseOrder
from plugins.inventory.schemas import (
    CountIn, OrderActionIn, PurchaseOrderIn, PurchaseOrderOut, ReceiptIn, StocktakeIn, StocktakeLineOut, StocktakeOut,
    StoreQuery, TransferIn, TransferOut,
)
from plugins.inventory.services import purchasing
from plugins.inventory.services import stocktake as stocktakes
from plugins.inventory.services import transfers

ERRORS = (400, 401, 403, 404, 422)


# --- purchase orders -----------------------------------------------------------------------------------

def _order(order_id: int) -> PurchaseOrder:
    order = db.session.get(PurchaseOrder, order_id)
    if order is None or order.store_id != g.store.id:
        raise NotFound(f"no purchase order {order_id}")
    return order


@endpoint(bp, "/purchase-orders", "GET", summary="The store's purchase orders, newest first (100)", query=StoreQuery,
          response=PurchaseOrderOut, many=True, errors=(401, 403, 404))
def list_orders(args):
    return [purchasing.order_view(o) for o in purchasing.orders_of(db.session, g.store.id)]


@endpoint(bp, "/purchase-orders", "POST", summary="Draft a purchase order, from lines or from the reorder suggestions (manager)",
          body=PurchaseOrderIn, response=PurchaseOrderOut, status=201, role="manager", errors=ERRORS)
def create_order(body):
    order = purchasing.create_order(db.session, g.store, body["supplier_id"], body.get("lines"),
                                    from_suggestions=body["from_suggestions"], settings=settings(), note=body.get("note"),
                                    actor=who()["actor"])
    db.session.commit()
    return purchasing.order_view(order), 201


@endpoint(bp, "/purchase-orders/<int:order_id>", "GET", summary="A purchase order with what was received of each line",
          query=StoreQuery, response=PurchaseOrderOut, errors=(401, 403, 404))
def get_order(order_id, args):
    return purchasing.order_view(_order(order_id))


@endpoint(bp, "/purchase-orders/<int:order_id>/send", "POST",
          summary="Mark a draft sent; emailed to the supplier when SMTP is configured (manager)", body=OrderActionIn,
          response=PurchaseOrderOut, role="manager", errors=ERRORS)
def send_order(order_id, body):
    order = purchasing.send_order(db.session, purchasing.order_for_update(db.session, g.store, order_id))
    db.session.commit()
    smtp = purchasing.smtp_settings(current_app.config)
    if smtp is not None and order.supplier.email:
        # After the commit: the order is sent either way; a mail server's failure is recorded.
        try:
            order.emailed_to = purchasing.email_order(order, smtp)
            order.email_error = None
        except Exception as exc:  # noqa: BLE001 - any SMTP or network failure is shown on the order
            current_app.logger.warning("emailing purchase order %s failed: %s", order.id, exc)
            order.email_error = str(exc)[:500] or type(exc).__name__
        db.session.commit()
    return purchasing.order_view(order)


@endpoint(bp, "/purchase-orders/<int:order_id>/receipts", "POST",
          summary="Book goods received against the order at its cost (partial receipts add up)", body=ReceiptIn,
          response=PurchaseOrderOut, status=201, errors=ERRORS)
def receive_order(order_id, body):
    order = purchasing.order_for_update(db.session, g.store, order_id)
    purchasing.receive(db.session, order, body.get("lines"), **who(), **effects())
    db.session.commit()
    return purchasing.order_view(order), 201


@endpoint(bp, "/purchase-orders/<int:order_id>/cancel", "POST", summary="Cancel a draft or sent order (manager)",
          body=OrderActionIn, response=PurchaseOrderOut, role="manager", errors=ERRORS)
def cancel_order(order_id, body):
    order = purchasing.cancel_order(db.session, purchasing.order_for_update(db.session, g.store, order_id))
    db.session.commit()
    return purchasing.order_view(order)


# --- stocktakes ----------------------------------------------------------------------------------------

@endpoint(bp, "/stocktakes", "POST", summary="Open a count of the store, or of one category (manager)", body=StocktakeIn,
          response=StocktakeOut, status=201, role="manager", errors=(400, 401, 403, 404, 409))
def open_stocktake(body):
    take = stocktakes.open_stocktake(db.session, g.store, category=body.get("category"), note=body.get("note"),
                                     actor=who()["actor"])
    db.session.commit()
    return stocktakes.view(db.session, take), 201


@endpoint(bp, "/stocktakes/<int:stocktake_id>", "GET", summary="A count: each item's count, expectation and variance",
          query=StoreQuery, response=StocktakeOut, errors=(401, 403, 404))
def get_stocktake(stocktake_id, args):
    return stocktakes.view(db.session, stocktakes.stocktake_in(db.session, g.store, stocktake_id))


@endpoint(bp, "/stocktakes/<int:stocktake_id>/counts", "POST",
          summary="A scan: add the quantity (default 1) to what was counted of the item with this barcode",
          body=CountIn, response=StocktakeLineOut, status=201, errors=ERRORS)
def post_count(stocktake_id, body):
    take = stocktakes.stocktake_in(db.session, g.store, stocktake_id)
    line = stocktakes.count(db.session, g.store, take, body["barcode"], body["quantity"], replace=body["replace"])
    result = next(x for x in stocktakes.view(db.session, take)["lines"] if x["product_id"] == line.product_id)
    db.session.commit()
    return result, 201


@endpoint(bp, "/stocktakes/<int:stocktake_id>/post", "POST", summary="Book the variances as stocktake moves (manager)",
          body=OrderActionIn, response=StocktakeOut, role="manager", errors=ERRORS)
def post_stocktake(stocktake_id, body):
    take = stocktakes.stocktake_in(db.session, g.store, stocktake_id, lock=True)
    stocktakes.post(db.session, g.store, take, **who(), **effects())
    db.session.commit()
    return stocktakes.view(db.session, take)


@endpoint(bp, "/stocktakes/<int:stocktake_id>/cancel", "POST", summary="Drop an open count; stock is unchanged (manager)",
          body=OrderActionIn, response=StocktakeOut, role="manager", errors=ERRORS)
def cancel_stocktake(stocktake_id, body):
    take = stocktakes.cancel(db.session, stocktakes.stocktake_in(db.session, g.store, stocktake_id, lock=True))
    db.session.commit()
    return stocktakes.view(db.session, take)


# --- transfers ---------------------------------------------------------------------------------------

@endpoint(bp, "/transfers", "GET", summary="Transfers the store sent or receives, newest first (100)", query=StoreQuery,
          response=TransferOut, many=True, errors=(401, 403, 404))
def list_transfers(args):
    return [transfers.transfer_view(t) for t in transfers.transfers_of(db.session, g.store.id)]


@endpoint(bp, "/transfers", "POST", summary="Send stock to another store: out here now, in transit there (manager)",
          body=TransferIn, response=TransferOut, status=201, role="manager", errors=ERRORS)
def create_transfer(body):
    target = db.session.scalars(select(Store).where(Store.code == body["to_store"])).first()
    reg = current_app.extensions["storecrm.plugins"]
    if target is None or not reg.is_enabled(target, "inventory"):
        raise Unprocessable("the receiving store does not keep stock here",
                            fields={"to_store": [f"No store {body['to_store']} with inventory on."]})
    transfer = transfers.create_transfer(db.session, g.store, target, body["lines"], note=body.get("note"), **who(),
                                         **effects())
    db.session.commit()
    return transfers.transfer_view(transfer), 201


@endpoint(bp, "/transfers/<int:transfer_id>", "GET", summary="A transfer", query=StoreQuery, response=TransferOut,
          errors=(401, 403, 404))
def get_transfer(transfer_id, args):
    return transfers.transfer_view(transfers.transfer_for(db.session, g.store, transfer_id))


@endpoint(bp, "/transfers/<int:transfer_id>/receive", "POST", summary="The receiving store books the goods in",
          body=OrderActionIn, response=TransferOut, errors=ERRORS)
def receive_transfer(transfer_id, body):
    transfer = transfers.transfer_for(db.session, g.store, transfer_id, lock=True)
    transfers.receive_transfer(db.session, g.store, transfer, **who(), **effects())
    db.session.commit()
    return transfers.transfer_view(transfer)
