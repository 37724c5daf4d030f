"""Transfers between branch stores: out of the sender at once (a `transfer_out` move), in transit
at the receiver until it books the goods in (a `transfer_in` move)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import or_, select, update

from core.errors import InvalidInput, NotFound, Unprocessable
from core.models import Store, utcnow
from plugins.inventory.labels import TRANSFER_STATUS_LABELS, label
from plugins.inventory.models import Stock, Transfer, TransferLine
from plugins.inventory.services.ledger import ZERO, apply_moves, upsert
from plugins.inventory.services.stock import find_product


def create_transfer(session, from_store, to_store: Store, lines: list[dict], *, note=None, user=None,
                    actor: str = "system", default_safety: Decimal, notify=None) -> Transfer:
    if to_store.id == from_store.id:
        raise InvalidInput("a transfer goes to another store", fields={"to_store": ["Pick another store."]})
    wanted: dict[int, Decimal] = {}
    errors = {}
    for i, line in enumerate(lines):
        try:
            product = find_product(session, sku=line["sku"])
        except InvalidInput:
            errors[f"lines.{i}.sku"] = [f"Unknown product {line['sku']}."]
            continue
        wanted[product.id] = wanted.get(product.id, ZERO) + Decimal(line["quantity"])
    if errors:
        raise InvalidInput("the transfer has invalid lines", fields=errors)
    transfer = Transfer(from_store_id=from_store.id, to_store_id=to_store.id, status="in_transit", note=note,
                        created_by=actor, lines=[TransferLine(product_id=pid, quantity=q) for pid, q in sorted(wanted.items())])
    session.add(transfer)
    session.flush()
    apply_moves(session, from_store.id, [
        {"product_id": pid, "kind": "transfer_out", "quantity": -q, "transfer_id": transfer.id,
         "source_key": f"transfer_out:{transfer.id}:{pid}", "reason": f"→ {to_store.code}", "actor": actor,
         "actor_user_id": getattr(user, "id", None)} for pid, q in sorted(wanted.items())
    ], default_safety=default_safety, notify=notify)
    _add_in_transit(session, to_store.id, wanted)
    return transfer


def _add_in_transit(session, store_id: int, quantities: dict[int, Decimal]) -> None:
    stock = Stock.__table__
    stmt = upsert(session, stock).values([
        {"store_id": store_id, "product_id": pid, "quantity": ZERO, "in_transit": q, "alert_open": False,
         "updated_at": utcnow()} for pid, q in sorted(quantities.items())])
    session.execute(stmt.on_conflict_do_update(index_elements=["store_id", "product_id"],
                                               set_={"in_transit": stock.c.in_transit + stmt.excluded.in_transit}))


def transfer_for(session, store, transfer_id: int, *, lock: bool = False) -> Transfer:
    """A transfer the store sends or receives; any other store's is not found (404)."""
    stmt = select(Transfer).where(Transfer.id == transfer_id)
    transfer = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if transfer is None or store.id not in (transfer.from_store_id, transfer.to_store_id):
        raise NotFound(f"no transfer {transfer_id}")
    return transfer


def receive_transfer(session, store, transfer: Transfer, *, user=None, actor: str = "system",
                     default_safety: Decimal, notify=None) -> Transfer:
    """The receiving store books the goods in; in transit goes down by as much."""
    if transfer.to_store_id != store.id:
        raise Unprocessable("only the receiving store books a transfer in",
                            fields={"store": [f"This transfer goes to {transfer.to_store.code}."]})
    if transfer.status != "in_transit":
        raise Unprocessable(f"transfer {transfer.id} is {transfer.status}",
                            fields={"status": [f"The transfer is {label(TRANSFER_STATUS_LABELS, transfer.status)}."]},
                            details={"status": transfer.status})
    apply_moves(session, store.id, [
        {"product_id": line.product_id, "kind": "transfer_in", "quantity": line.quantity, "transfer_id": transfer.id,
         "source_key": f"transfer_in:{transfer.id}:{line.product_id}", "reason": f"← {transfer.from_store.code}",
         "actor": actor, "actor_user_id": getattr(user, "id", None)} for line in transfer.lines
    ], default_safety=default_safety, notify=notify)
    for line in transfer.lines:
        session.execute(update(Stock).where(Stock.store_id == store.id, Stock.product_id == line.product_id)
                        .values(in_transit=Stock.in_transit - line.quantity).execution_options(synchronize_session=False))
    transfer.status = "received"
    transfer.received_at = utcnow()
    session.flush()
    return transfer


def transfers_of(session, store_id: int, limit: int = 100) -> list[Transfer]:
    return list(session.scalars(select(Transfer).where(or_(Transfer.from_store_id == store_id,
                                                            Transfer.to_store_id == store_id))
                                .order_by(Transfer.id.desc()).limit(limit)))


def transfer_view(transfer: Transfer) -> dict:
    return {"id": transfer.id, "from_store": transfer.from_store.code, "to_store": transfer.to_store.code,
            "status": transfer.status, "status_label": label(TRANSFER_STATUS_LABELS, transfer.status),
            "note": transfer.note, "created_at": transfer.created_at, "received_at": transfer.received_at,
            "lines": [{"sku": line.product.sku, "name": line.product.name, "quantity": line.quantity}
                      for line in transfer.lines]}
