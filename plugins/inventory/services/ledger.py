"""The stock ledger: moves, the running level, the below-zero rule and safety-stock alerts.

Every change of stock goes through `apply_moves`: one multi-row INSERT of the moves (a move
whose `source_key` is already in the ledger is skipped, so a redelivered event adds nothing)
and one multi-row upsert of the running totals (`quantity = quantity + :n … RETURNING`), so
two tills selling the same product at once never lose a decrement."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Callable

from sqlalchemy import and_, func, select, update

from core.errors import InvalidInput, Unprocessable
from core.models import Product, utcnow
from core.models.prepared import Prepared
from core.models.types import insert_for
from core.models.types import upsert  # inventory's other modules import it from here
from core.webhooks import emit_event
from plugins.inventory.models import Alert, Move, Stock

ZERO = Decimal("0")
MOVE_COLUMNS = ("store_id", "product_id", "kind", "quantity", "unit_cost", "reason", "source_key", "sale_id",
                "refund_id", "purchase_order_id", "transfer_id", "stocktake_id", "actor_user_id", "actor", "occurred_at")

# notify(topic, data) -> True when a channel (campaigns) took the message for the store's managers.
Notify = Callable[[str, dict], bool]


def qty(value) -> str:
    """A quantity as people write it: 5, 2.5 (never 5.000 or 5E+1)."""
    value = Decimal(value or 0)
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text




def apply_moves(session, store_id: int, moves: list[dict], *, default_safety: Decimal,
                notify: Notify | None = None) -> dict[int, Decimal]:
    """Write `moves` (dicts with at least product_id, kind, quantity) for `store_id` and add them
    to the running totals. Returns {product_id: level after} for the products that moved."""
    if not moves:
        return {}
    now = utcnow()
    rows = [{column: None for column in MOVE_COLUMNS} | {"reason": "", "actor": "system", "occurred_at": now,
                                                         "store_id": store_id} | move for move in moves]
    # Statement and rows apart (not .values(rows)): SQLAlchemy then sends one multi-row INSERT
    # ("insertmanyvalues") from a statement built and compiled once per process; a .values()
    # list is compiled again on every sale.
    written = MOVES_INSERT.execute(session, rows).all()
    delta: dict[int, Decimal] = defaultdict(Decimal)
    for product_id, quantity in written:
        delta[product_id] += Decimal(quantity)
    if not delta:
        return {}
    # Sorted: two sales of the same products lock their rows in the same order (no deadlock).
    values = [{"store_id": store_id, "product_id": pid, "quantity": delta[pid], "in_transit": ZERO, "alert_open": False,
               "updated_at": now} for pid in sorted(delta)]
    result = STOCK_ADD.execute(session, values).all()
    review_alerts(session, store_id, result, default_safety=default_safety, notify=notify, deltas=delta)
    return {pid: Decimal(level) for pid, level, _s, _a in result}


def _stock_add(dialect: str):
    stock = Stock.__table__
    totals = insert_for(dialect, stock)
    return totals.on_conflict_do_update(
        index_elements=["store_id", "product_id"],
        set_={"quantity": stock.c.quantity + totals.excluded.quantity, "updated_at": totals.excluded.updated_at},
    ).returning(stock.c.product_id, stock.c.quantity, stock.c.safety_stock, stock.c.alert_open)


# Built once per database (core/models/prepared.py): every sale runs both.
MOVES_INSERT = Prepared(lambda dialect: insert_for(dialect, Move.__table__)
                        .on_conflict_do_nothing(index_elements=["source_key"])
                        .returning(Move.__table__.c.product_id, Move.__table__.c.quantity))
STOCK_ADD = Prepared(_stock_add)


# --- safety stock ------------------------------------------------------------------------------------

def review_alerts(session, store_id: int, rows, *, default_safety: Decimal, notify: Notify | None,
                  deltas: dict[int, Decimal] | None = None) -> None:
    """Raise an alert for each (product_id, level, safety_stock, alert_open) row that is below its
    safety stock without an open alert, and clear the open alert of each row that is back at or
    above it. With `deltas` (the moves just made) only a row that crossed the line by them is
    raised: a product never stocked here, sold from nothing, raises none. Nothing is written for
    rows whose state did not change (the usual sale)."""
    below, restored = [], []
    for product_id, level, safety, alert_open in rows:
        threshold = Decimal(safety) if safety is not None else Decimal(default_safety)
        crossed = deltas is None or Decimal(level) - deltas.get(product_id, ZERO) >= threshold
        if Decimal(level) < threshold and not alert_open and crossed:
            below.append((product_id, Decimal(level), threshold))
        elif Decimal(level) >= threshold and alert_open:
            restored.append(product_id)
    if below:
        _raise(session, store_id, below, notify)
    if restored:
        _clear(session, store_id, restored)


def _raise(session, store_id: int, below: list[tuple[int, Decimal, Decimal]], notify: Notify | None) -> None:
    now = utcnow()
    alert = Alert.__table__
    insert = upsert(session, alert).values([
        {"store_id": store_id, "product_id": pid, "open_key": open_key(store_id, pid), "level": level,
         "safety_stock": threshold, "raised_at": now, "notified": False} for pid, level, threshold in below
    ]).on_conflict_do_nothing(index_elements=["open_key"])  # an alert already open stays the one
    raised = session.execute(insert.returning(alert.c.id, alert.c.product_id)).all()
    for alert_id, pid in raised:
        emit_event(session, store_id, "inventory.stock_below_safety", {"alert_id": alert_id, "product_id": pid})
    session.execute(update(Stock).where(Stock.store_id == store_id, Stock.product_id.in_([p for p, _l, _t in below]))
                    .values(alert_open=True).execution_options(synchronize_session=False))
    if not raised or notify is None:
        return
    facts = {pid: (level, threshold) for pid, level, threshold in below}
    taken = _tell_managers(session, [(alert_id, pid, *facts[pid]) for alert_id, pid in raised], notify)
    if taken:
        session.execute(update(Alert).where(Alert.id.in_(taken)).values(notified=True)
                        .execution_options(synchronize_session=False))


def _tell_managers(session, alerts: list[tuple[int, int, Decimal, Decimal]], notify: Notify) -> set[int]:
    """Send each (alert id, product id, level, safety stock) to the store's managers (the
    products read in one query). Returns the ids of the alerts a channel took."""
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_({a[1] for a in alerts})))}
    return {alert_id for alert_id, pid, level, threshold in sorted(alerts)
            if notify("inventory.below_safety", {"alert_id": alert_id, "sku": products[pid].sku,
                                                 "name": products[pid].name, "level": qty(level),
                                                 "safety_stock": qty(threshold)})}


def notify_open_alerts(session, store_id: int, product_ids: list[int], notify: Notify) -> None:
    """After the commit of sales in `store_id`: tell the managers of the open alerts of
    `product_ids` that no channel has taken yet (those the sales raised, in their transaction;
    and one raised while no manager or channel could be told, at the product's next sale).

    The alerts are claimed by one UPDATE ... RETURNING (marked notified): sales that crossed
    the line together, followed up at once in two workers, tell the managers once; those no
    channel took are unmarked again. One statement for a delivery batch when none is waiting."""
    if not product_ids:
        return
    alert = Alert.__table__
    claimed = session.execute(
        update(alert).where(alert.c.store_id == store_id, alert.c.product_id.in_(product_ids),
                            alert.c.open_key.is_not(None), alert.c.notified.is_(False))
        .values(notified=True).returning(alert.c.id, alert.c.product_id, alert.c.level, alert.c.safety_stock)).all()
    if not claimed:
        return
    taken = _tell_managers(session, [tuple(row) for row in claimed], notify)
    untold = [row[0] for row in claimed if row[0] not in taken]
    if untold:
        session.execute(update(alert).where(alert.c.id.in_(untold)).values(notified=False))


def _clear(session, store_id: int, product_ids: list[int]) -> None:
    session.execute(update(Alert).where(Alert.open_key.in_([open_key(store_id, p) for p in product_ids]))
                    .values(open_key=None, cleared_at=utcnow()).execution_options(synchronize_session=False))
    session.execute(update(Stock).where(Stock.store_id == store_id, Stock.product_id.in_(product_ids))
                    .values(alert_open=False).execution_options(synchronize_session=False))


def open_key(store_id: int, product_id: int) -> str:
    return f"{store_id}:{product_id}"


def recheck_alerts(session, store_id: int, product_ids: list[int], *, default_safety: Decimal,
                   notify: Notify | None = None) -> None:
    """After a safety stock changed: raise or clear as the rows now stand."""
    rows = session.execute(select(Stock.product_id, Stock.quantity, Stock.safety_stock, Stock.alert_open)
                           .where(Stock.store_id == store_id, Stock.product_id.in_(product_ids))).all()
    review_alerts(session, store_id, rows, default_safety=default_safety, notify=notify)


# --- sales and refunds (the till path: few statements, set-based for all lines) -----------------------

def _sold_by_product(lines) -> dict[int, tuple[Decimal, Decimal | None]]:
    """{product_id: (quantity, unit cost)} of a sale's lines; lines without a product are skipped."""
    sold: dict[int, list] = {}
    for line in lines:
        product_id = line.product_id if line.product_id is not None else getattr(line.product, "id", None)
        if product_id is None or not line.quantity:
            continue
        entry = sold.setdefault(product_id, [ZERO, line.unit_cost])
        entry[0] += Decimal(line.quantity)
    return {pid: (q, cost) for pid, (q, cost) in sold.items()}


def record_sale(session, sale, *, default_safety: Decimal, user=None, actor: str = "system",
                notify: Notify | None = None) -> dict[int, Decimal]:
    """The stock a sale takes: one move per product, once per sale (idempotent per event)."""
    moves = [{"product_id": pid, "kind": "sale", "quantity": -quantity, "unit_cost": cost, "sale_id": sale.id,
              "source_key": f"sale:{sale.id}:{pid}", "occurred_at": sale.occurred_at, "actor": actor,
              "actor_user_id": getattr(user, "id", None)}
             for pid, (quantity, cost) in sorted(_sold_by_product(sale.lines).items())]
    return apply_moves(session, sale.store_id, moves, default_safety=default_safety, notify=notify)


def record_refund(session, sale, refund, *, default_safety: Decimal, user=None, actor: str = "system",
                  notify: Notify | None = None) -> dict[int, Decimal]:
    """A refund puts back what its lines took, for the products whose stock the sale moved
    (a sale from before inventory was switched on took nothing, so its refund returns nothing)."""
    returned: dict[int, list] = {}
    for refund_line in refund.lines:
        line = refund_line.sale_line
        if line.product_id is None or not refund_line.quantity:
            continue
        entry = returned.setdefault(line.product_id, [ZERO, line.unit_cost])
        entry[0] += Decimal(refund_line.quantity)
    if not returned:
        return {}
    moved = set(session.scalars(select(Move.product_id).where(Move.sale_id == sale.id, Move.kind == "sale")))
    moves = [{"product_id": pid, "kind": "refund", "quantity": quantity, "unit_cost": cost, "sale_id": sale.id,
              "refund_id": refund.id, "source_key": f"refund:{refund.id}:{pid}", "actor": actor,
              "actor_user_id": getattr(user, "id", None)}
             for pid, (quantity, cost) in sorted(returned.items()) if pid in moved]
    return apply_moves(session, sale.store_id, moves, default_safety=default_safety, notify=notify)


def check_stock_covers_sale(session, store, sale) -> None:
    """Refuse (422) a sale that needs more of a product than the store has, naming the SKU and
    the level. The stock rows read are locked until the sale commits, so concurrent sales of
    the last units are decided one after the other on the real level."""
    wanted: dict[int, list] = {}
    for i, line in enumerate(sale.lines):
        if line.product is None or not line.quantity or line.quantity <= 0:
            continue
        entry = wanted.setdefault(line.product.id, [line.product.sku, ZERO, i])
        entry[1] += Decimal(line.quantity)
    if not wanted:
        return
    levels = dict(session.execute(
        select(Stock.product_id, Stock.quantity)
        .where(Stock.store_id == store.id, Stock.product_id.in_(sorted(wanted)))
        .order_by(Stock.product_id).with_for_update()
    ).all())
    errors, short = {}, []
    for pid, (sku, needed, index) in wanted.items():
        level = Decimal(levels.get(pid) or 0)
        if level < needed:
            errors[f"lines.{index}.quantity"] = [f"Only {qty(level)} of {sku} in stock; the sale needs {qty(needed)}."]
            short.append({"sku": sku, "level": qty(level), "requested": qty(needed)})
    if errors:
        listing = ", ".join(f"{s['sku']} ({s['level']} in stock)" for s in short)
        raise Unprocessable(f"not enough stock: {listing}", fields=errors, details={"stock": short})


def quote_warnings(session, store, settings: dict, cart: dict) -> list[dict]:
    """What the till should know before taking payment: lines that need more than the shelf
    holds. Amount 0: a warning, never a price change."""
    from flask_babel import gettext as _

    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for line in cart.get("lines") or []:
        if line.get("quantity") and Decimal(line["quantity"]) > 0:
            wanted[line["sku"]] += Decimal(line["quantity"])
    if not wanted:
        return []
    rows = session.execute(
        select(Product.sku, Stock.quantity).select_from(Product)
        .outerjoin(Stock, and_(Stock.product_id == Product.id, Stock.store_id == store.id))
        .where(Product.sku.in_(sorted(wanted)))
    ).all()
    refused = not settings["allow_negative_stock"]
    warnings = []
    for sku, level in sorted(rows):
        level = Decimal(level or 0)
        if level >= wanted[sku]:
            continue
        label = (_("Only %(level)s of %(sku)s in stock: this sale will be refused.", level=qty(level), sku=sku)
                 if refused else _("Only %(level)s of %(sku)s in stock: the sale takes it below zero.",
                                   level=qty(level), sku=sku))
        warnings.append({"source": "inventory", "code": "stock_short", "label": label, "amount": Decimal("0.00"),
                         "warning": True, "data": {"sku": sku, "level": qty(level), "requested": qty(wanted[sku]),
                                                   "refused": refused}})
    return warnings


# --- receipts and adjustments by hand ------------------------------------------------------------------

def receive_at_cost(session, store_id: int, items: dict[int, tuple[Decimal, Decimal | None]], moves: list[dict], *,
                    default_safety: Decimal, notify: Notify | None = None) -> dict[int, Decimal]:
    """Book received goods (`moves`, positive) and move each product's average cost towards the
    cost paid: (on hand × old cost + received × paid) ÷ (on hand + received), on hand counted
    from zero when the level is negative. `items`: {product_id: (quantity, unit cost paid)}."""
    # After the upsert this transaction holds the stock rows' locks: the cost read is current.
    levels = apply_moves(session, store_id, moves, default_safety=default_safety, notify=notify)
    costs = {pid: (avg, cost) for pid, avg, cost in session.execute(
        select(Product.id, Stock.average_cost, Product.cost).join(Stock, Stock.product_id == Product.id)
        .where(Stock.store_id == store_id, Product.id.in_(sorted(levels))))}
    for pid, (received, paid) in items.items():
        if paid is None or pid not in levels:
            continue
        average, product_cost = costs[pid]
        old_cost = average if average is not None else (product_cost if product_cost is not None else paid)
        base = max(levels[pid] - received, ZERO)
        new_cost = ((base * Decimal(old_cost) + received * Decimal(paid)) / (base + received)).quantize(Decimal("0.01"))
        session.execute(update(Stock).where(Stock.store_id == store_id, Stock.product_id == pid)
                        .values(average_cost=new_cost).execution_options(synchronize_session=False))
    return levels


def post_move(session, store, product, *, kind: str, quantity: Decimal, reason: str, unit_cost: Decimal | None = None,
              user=None, actor: str = "system", default_safety: Decimal, notify: Notify | None = None) -> Move:
    """A receipt without an order, or an adjustment (breakage, a found box), with its reason."""
    quantity = Decimal(quantity)
    if kind == "receipt" and quantity <= 0:
        raise InvalidInput("a receipt adds stock", fields={"quantity": ["A receipt needs a positive quantity."]})
    if kind == "adjustment" and quantity == 0:
        raise InvalidInput("an adjustment changes stock", fields={"quantity": ["An adjustment cannot be 0."]})
    if not (reason or "").strip():
        raise InvalidInput("a move needs its reason", fields={"reason": ["Say why the stock changes."]})
    move = {"product_id": product.id, "kind": kind, "quantity": quantity, "reason": reason.strip(),
            "unit_cost": unit_cost if kind == "receipt" else product.cost, "actor": actor,
            "actor_user_id": getattr(user, "id", None)}
    if kind == "receipt":
        cost = unit_cost if unit_cost is not None else product.cost
        move["unit_cost"] = cost
        receive_at_cost(session, store.id, {product.id: (quantity, cost)}, [move], default_safety=default_safety,
                        notify=notify)
    else:
        apply_moves(session, store.id, [move], default_safety=default_safety, notify=notify)
    return session.scalars(select(Move).where(Move.store_id == store.id, Move.product_id == product.id)
                           .order_by(Move.id.desc()).limit(1)).one()


def ledger_level(session, store_id: int, product_id: int) -> Decimal:
    """The level as the sum of the moves (the truth the running total must equal)."""
    return Decimal(session.scalar(select(func.coalesce(func.sum(Move.quantity), 0))
                                  .where(Move.store_id == store_id, Move.product_id == product_id)) or 0)


def change_for_plugin(session, store, sku: str, quantity: Decimal, reason: str, source_key: str, *,
                      default_safety: Decimal, allow_negative: bool, user=None, actor: str = "system",
                      notify: Notify | None = None) -> bool:
    """Another plugin hands goods over or takes them back outside a sale (membership's rewards,
    through `stock_change`): an adjustment move with its reason. Taking out more than the store
    has is a 422 unless the store allows negative stock. The same `source_key` moves once."""
    product = session.scalars(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise Unprocessable(f"no product {sku}", fields={"stock": [f"No product with SKU {sku}."]},
                            details={"available": 0})
    quantity = Decimal(quantity)
    if quantity < 0 and not allow_negative:
        row = session.scalars(select(Stock).where(Stock.store_id == store.id, Stock.product_id == product.id)
                              .with_for_update()).first()
        have = Decimal(row.quantity) if row is not None else ZERO
        if have + quantity < 0:
            raise Unprocessable(f"only {qty(have)} of {sku} in stock", details={"available": qty(have)},
                                fields={"stock": [f"Only {qty(have)} of {sku} in stock at {store.code}."]})
    apply_moves(session, store.id, [{"product_id": product.id, "kind": "adjustment", "quantity": quantity,
                                     "reason": reason[:300], "source_key": source_key[:100], "unit_cost": product.cost,
                                     "actor": actor, "actor_user_id": getattr(user, "id", None)}],
                default_safety=default_safety, notify=notify)
    return True
