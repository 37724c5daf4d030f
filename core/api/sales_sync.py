"""`GET /sales`: what an integrator syncs from, filtered and paged by cursor (api.md)."""

from __future__ import annotations

from flask import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from core.access import customer_or_404
from core.api.fields import Id, Timestamp
from core.api.http import endpoint, keyset_page, principal, resolve_store
from core.api.schemas import SaleOut, Strict
from core.api.serialize import sale_dict
from core.models import Sale
from core.models.sale import SALE_STATUSES

bp = Blueprint("sales_sync", __name__)
bp.storecrm_tag = "sales"


class SaleQuery(Strict):
    store = fields.String(metadata={"description": "a store code (default: every store the caller works in)"})
    customer = Id(strict=False, metadata={"description": "only this customer's sales (a customer the caller sees)"})
    status = fields.String(validate=validate.OneOf(SALE_STATUSES))
    updated_since = Timestamp(metadata={"description": "only sales recorded or refunded at or after this time "
                                                       "(ISO 8601 with a time zone); sync from the time your last "
                                                       "sync started"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500), metadata={"description": "page size"})
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


@endpoint(bp, "/sales", "GET",
          summary="List sales, oldest id first, by store, customer, status and updated_since (cursor pages)",
          query=SaleQuery, response=SaleOut, paginated=True, errors=(400, 401, 403, 404))
def list_sales(args):
    who = principal()
    stmt = select(Sale).options(joinedload(Sale.store), joinedload(Sale.staff), selectinload(Sale.lines),
                                selectinload(Sale.adjustments), selectinload(Sale.payments))
    if args.get("store"):
        stmt = stmt.where(Sale.store_id == resolve_store(args["store"]).id)
    else:
        ids = who.store_ids()
        if ids is not None:
            stmt = stmt.where(Sale.store_id.in_(ids))
    if args.get("customer"):
        stmt = stmt.where(Sale.customer_id == customer_or_404(args["customer"]).id)
    if args.get("status"):
        stmt = stmt.where(Sale.status == args["status"])
    if args.get("updated_since"):
        stmt = stmt.where(Sale.updated_at >= args["updated_since"])
    rows, next_cursor = keyset_page(stmt, Sale.id, args.get("cursor"), args["limit"])
    return {"items": [sale_dict(sale) for sale in rows], "next_cursor": next_cursor}
