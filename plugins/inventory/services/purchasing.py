"""Reordering: suggested quantities (min/max or sales velocity × lead time), suppliers and
purchase orders draft → sent → partly received → received (or cancelled), receipts at cost."""

from __future__ import annotations

import math
import os
import smtplib
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage

from sqlalchemy import func, select

from core.errors import InvalidInput, NotFound, Unprocessable
from core.models import Product, utcnow
from plugins.inventory.labels import ORDER_STATUS_LABELS, label
from plugins.inventory.models import Move, PurchaseOrder, PurchaseOrderLine, Stock, Supplier
from plugins.inventory.services.ledger import ZERO, qty, receive_at_cost
from plugins.inventory.services.stock import find_product, on_order_subquery

# Which action each state allows; anything else is a 422 naming the state.
ALLOWED = {"send": ("draft",), "receive": ("sent", "partly_received"), "cancel": ("draft", "sent")}


# --- suggestions ------------------------------------------------------------------------------------

def suggestions(session, store_id: int, settings: dict, *, supplier_id: int | None = None, today=None) -> list[dict]:
    """What to order now, per product with stock in the store, most urgent first.

    position = level + in transit + on order. With a max level (min/max): when the position is at
    or below the safety stock, order up to the max level. Otherwise by velocity: daily sales over
    the last `velocity_days`; the reorder point is safety stock + daily sales × lead time; at or
    below it, order enough to cover lead time + `review_days` of sales above the safety stock."""
    now = utcnow()
    since = now - timedelta(days=settings["velocity_days"])
    sold = (select(Move.product_id.label("product_id"), (-func.sum(Move.quantity)).label("sold"))
            .where(Move.store_id == store_id, Move.kind.in_(("sale", "refund")), Move.occurred_at >= since)
            .group_by(Move.product_id).subquery())
    on_order = on_order_subquery(store_id)
    stmt = (select(Product, Stock, func.coalesce(on_order.c.on_order, 0), func.coalesce(sold.c.sold, 0),
                   Supplier.lead_time_days)
            .select_from(Stock).join(Product, Product.id == Stock.product_id)
            .outerjoin(on_order, on_order.c.product_id == Stock.product_id)
            .outerjoin(sold, sold.c.product_id == Stock.product_id)
            .outerjoin(Supplier, Supplier.id == Stock.supplier_id)
            .where(Stock.store_id == store_id, Product.active.is_(True)))
    if supplier_id is not None:
        stmt = stmt.where((Stock.supplier_id == supplier_id) | Stock.supplier_id.is_(None))
    out = []
    for product, stock, ordered, sold_qty, supplier_lead in session.execute(stmt):
        level, ordered, transit = Decimal(stock.quantity), Decimal(ordered), Decimal(stock.in_transit)
        position = level + ordered + transit
        safety = Decimal(stock.safety_stock if stock.safety_stock is not None else settings["default_safety_stock"])
        daily = max(Decimal(sold_qty), ZERO) / settings["velocity_days"]
        lead = stock.lead_time_days if stock.lead_time_days is not None else (
            supplier_lead if supplier_lead is not None else settings["default_lead_time_days"])
        if stock.max_level is not None:
            method, wanted = "min_max", (Decimal(stock.max_level) - position if position <= safety else ZERO)
        else:
            reorder_point = safety + daily * lead
            method = "velocity"
            wanted = (reorder_point + daily * settings["review_days"] - position) if position <= reorder_point else ZERO
        wanted = Decimal(math.ceil(wanted)) if wanted > 0 else ZERO
        if wanted <= 0:
            continue
        cover = (level / daily) if daily > 0 else None
        out.append({"product_id": product.id, "sku": product.sku, "name": product.name, "level": level,
                    "on_order": ordered, "in_transit": transit, "safety_stock": safety, "max_level": stock.max_level,
                    "daily_sales": daily.quantize(Decimal("0.001")), "lead_time_days": lead, "method": method,
                    "quantity": wanted, "supplier_id": stock.supplier_id,
                    "unit_cost": stock.average_cost if stock.average_cost is not None else product.cost,
                    "_urgency": (level - safety, cover if cover is not None else Decimal("1e9"))})
    out.sort(key=lambda s: (s["_urgency"], s["sku"]))
    for s in out:
        s.pop("_urgency")
    return out


# --- suppliers ------------------------------------------------------------------------------------------

def save_supplier(session, values: dict, supplier: Supplier | None = None) -> Supplier:
    supplier = supplier or Supplier()
    for key, value in values.items():
        setattr(supplier, key, value)
    session.add(supplier)
    session.flush()
    return supplier


# --- purchase orders --------------------------------------------------------------------------------------

def create_order(session, store, supplier_id: int, lines: list[dict] | None, *, from_suggestions: bool = False,
                 settings: dict | None = None, note: str | None = None, actor: str = "system") -> PurchaseOrder:
    supplier = session.get(Supplier, supplier_id)
    if supplier is None or not supplier.active:
        raise InvalidInput("unknown supplier", fields={"supplier_id": [f"No active supplier {supplier_id}."]})
    order = PurchaseOrder(store_id=store.id, supplier=supplier, status="draft", note=note, created_by=actor, lines=[])
    wanted: dict[int, tuple[Product, Decimal, Decimal]] = {}
    if from_suggestions:
        for s in suggestions(session, store.id, settings, supplier_id=supplier.id):
            product = session.get(Product, s["product_id"])
            wanted[product.id] = (product, s["quantity"], s["unit_cost"] or product.cost or Decimal("0.00"))
    errors = {}
    for i, line in enumerate(lines or []):
        try:
            product = find_product(session, sku=line["sku"])
        except InvalidInput:
            errors[f"lines.{i}.sku"] = [f"Unknown product {line['sku']}."]
            continue
        cost = line.get("unit_cost")
        wanted[product.id] = (product, Decimal(line["quantity"]),
                              cost if cost is not None else (product.cost or Decimal("0.00")))
    if errors:
        raise InvalidInput("the order has invalid lines", fields=errors)
    if not wanted:
        raise Unprocessable("nothing to order", fields={"lines": ["Give lines, or there is nothing to reorder "
                                                                  "from this supplier now."]})
    for product, quantity, cost in wanted.values():
        order.lines.append(PurchaseOrderLine(product=product, quantity=quantity, unit_cost=cost, received_quantity=ZERO))
    session.add(order)
    session.flush()
    return order


def order_for_update(session, store, order_id: int) -> PurchaseOrder:
    """The order, locked for a change of state; another store's order is not found (404)."""
    order = session.scalars(select(PurchaseOrder).where(PurchaseOrder.id == order_id).with_for_update()).first()
    if order is None or order.store_id != store.id:
        raise NotFound(f"no purchase order {order_id}")
    return order


def _require(order: PurchaseOrder, action: str) -> None:
    if order.status not in ALLOWED[action]:
        raise Unprocessable(f"a purchase order that is {order.status} cannot be {action_past(action)}",
                            fields={"status": [f"The order is {label(ORDER_STATUS_LABELS, order.status)}; "
                                               f"only {', '.join(ALLOWED[action])} orders can be {action_past(action)}."]},
                            details={"status": order.status})


def action_past(action: str) -> str:
    return {"send": "sent", "receive": "received", "cancel": "cancelled"}[action]


def send_order(session, order: PurchaseOrder) -> PurchaseOrder:
    _require(order, "send")
    order.status = "sent"
    order.sent_at = utcnow()
    session.flush()
    return order


def cancel_order(session, order: PurchaseOrder) -> PurchaseOrder:
    _require(order, "cancel")
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    session.flush()
    return order


def receive(session, order: PurchaseOrder, lines: list[dict] | None, *, default_safety: Decimal, user=None,
            actor: str = "system", notify=None) -> PurchaseOrder:
    """Book what arrived (`[{"sku", "quantity"}]`, or everything outstanding) as receipts at the
    order's cost. More than is outstanding on a line is a 422; nothing is booked then."""
    _require(order, "receive")
    by_sku = {line.product.sku: line for line in order.lines}
    arriving: dict[int, tuple[PurchaseOrderLine, Decimal]] = {}
    errors = {}
    if lines:
        for i, item in enumerate(lines):
            line = by_sku.get(item["sku"])
            if line is None:
                errors[f"lines.{i}.sku"] = [f"{item['sku']} is not on this order."]
                continue
            total = (arriving[line.product_id][1] if line.product_id in arriving else ZERO) + Decimal(item["quantity"])
            outstanding = line.quantity - line.received_quantity
            if total > outstanding:
                errors[f"lines.{i}.quantity"] = [f"Only {qty(outstanding)} of {item['sku']} are outstanding."]
                continue
            arriving[line.product_id] = (line, total)
    else:
        arriving = {line.product_id: (line, line.quantity - line.received_quantity) for line in order.lines
                    if line.quantity > line.received_quantity}
    if errors:
        raise Unprocessable("the receipt does not match the order", fields=errors)
    if not arriving:
        raise Unprocessable("nothing outstanding on this order", fields={"lines": ["Everything was received."]})
    moves = [{"product_id": pid, "kind": "receipt", "quantity": quantity, "unit_cost": line.unit_cost,
              "purchase_order_id": order.id, "reason": f"PO #{order.id}", "actor": actor,
              "actor_user_id": getattr(user, "id", None)} for pid, (line, quantity) in sorted(arriving.items())]
    receive_at_cost(session, order.store_id, {pid: (q, line.unit_cost) for pid, (line, q) in arriving.items()}, moves,
                    default_safety=default_safety, notify=notify)
    for line, quantity in arriving.values():
        line.received_quantity += quantity
    done = all(line.received_quantity >= line.quantity for line in order.lines)
    order.status = "received" if done else "partly_received"
    if done:
        order.received_at = utcnow()
    session.flush()
    return order


# --- email -------------------------------------------------------------------------------------------

def smtp_settings(config) -> dict | None:
    """SMTP from the app's config (SMTP_HOST…) or the environment (STORECRM_SMTP_HOST, _PORT,
    _USERNAME, _PASSWORD, _FROM, _STARTTLS). None when no host is set: orders are not emailed."""
    def get(key, default=None):
        return config.get(f"SMTP_{key}") or os.environ.get(f"STORECRM_SMTP_{key}") or default

    host = get("HOST")
    if not host:
        return None
    return {"host": host, "port": int(get("PORT", 25)), "username": get("USERNAME"), "password": get("PASSWORD"),
            "sender": get("FROM", "storecrm@localhost"), "starttls": str(get("STARTTLS", "")).lower() in ("1", "true", "yes")}


def order_email(order: PurchaseOrder, sender: str) -> EmailMessage:
    """The order as the supplier reads it, in Chinese and English."""
    store = order.store
    message = EmailMessage()
    message["Subject"] = f"采购订单 Purchase order #{order.id} · {store.name}"
    message["From"] = sender
    message["To"] = order.supplier.email
    rows = "\n".join(f"  {line.product.sku}  {line.product.name}  × {qty(line.quantity)}  @ ¥{line.unit_cost}"
                     for line in order.lines)
    message.set_content(
        f"{order.supplier.contact or order.supplier.name}，您好：\n\n"
        f"{store.name}（{store.address or store.code}）订购以下商品 / please deliver:\n\n{rows}\n\n"
        f"合计 Total: ¥{order.total_cost:.2f}\n"
        f"{('备注 Note: ' + order.note) if order.note else ''}\n\n"
        f"订单号 Order number: {store.code}-PO-{order.id}\n")
    return message


def email_order(order: PurchaseOrder, smtp: dict) -> str:
    """Send the order to the supplier's address; returns the address. Raises on SMTP errors."""
    if not order.supplier.email:
        raise Unprocessable("the supplier has no email address", fields={"supplier": ["No email address."]})
    message = order_email(order, smtp["sender"])
    with smtplib.SMTP(smtp["host"], smtp["port"], timeout=20) as client:
        if smtp["starttls"]:
            client.starttls()
        if smtp["username"]:
            client.login(smtp["username"], smtp["password"] or "")
        client.send_message(message)
    return order.supplier.email


def order_view(order: PurchaseOrder) -> dict:
    return {"id": order.id, "store": order.store.code, "supplier_id": order.supplier_id, "supplier": order.supplier.name,
            "status": order.status, "status_label": label(ORDER_STATUS_LABELS, order.status), "note": order.note,
            "total_cost": order.total_cost, "created_at": order.created_at, "sent_at": order.sent_at,
            "received_at": order.received_at, "cancelled_at": order.cancelled_at, "emailed_to": order.emailed_to,
            "email_error": order.email_error,
            "lines": [{"sku": line.product.sku, "name": line.product.name, "quantity": line.quantity,
                       "unit_cost": line.unit_cost, "received_quantity": line.received_quantity,
                       "outstanding": line.quantity - line.received_quantity} for line in order.lines]}


def orders_of(session, store_id: int, limit: int = 100) -> list[PurchaseOrder]:
    return list(session.scalars(select(PurchaseOrder).where(PurchaseOrder.store_id == store_id)
                                .order_by(PurchaseOrder.id.desc()).limit(limit)))
