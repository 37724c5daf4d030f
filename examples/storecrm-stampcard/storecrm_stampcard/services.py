"""The plugin's rules: plain functions on a session, called by the hooks and the API."""

from sqlalchemy import delete, func, select, update

from storecrm_stampcard.models import Stamp


def earn(session, sale, event_id: int) -> None:
    """One stamp per unit of the sale, for a customer's sale."""
    if sale.customer_id is None or event_id is None:
        return
    units = int(sum(line.quantity for line in sale.lines))
    if units:
        session.add(Stamp(customer_id=sale.customer_id, store_id=sale.store_id, event_id=event_id, stamps=units))


def give_back(session, sale, refund, event_id: int) -> None:
    """The stamps of the refunded units go."""
    if sale.customer_id is None or event_id is None:
        return
    units = int(sum(line.quantity for line in refund.lines))
    if units:
        session.add(Stamp(customer_id=sale.customer_id, store_id=sale.store_id, event_id=event_id, stamps=-units))


def balance(session, customer_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Stamp.stamps), 0))
                              .where(Stamp.customer_id == customer_id)))


def export(session, customer_id: int) -> dict | None:
    rows = session.scalars(select(Stamp).where(Stamp.customer_id == customer_id).order_by(Stamp.id)).all()
    if not rows:
        return None
    return {"stamps": [{"stamps": r.stamps, "at": r.created_at.isoformat()} for r in rows]}


def erase(session, customer_id: int) -> None:
    session.execute(delete(Stamp).where(Stamp.customer_id == customer_id))


def merge(session, kept_id: int, merged_id: int) -> dict:
    moved = session.execute(update(Stamp).where(Stamp.customer_id == merged_id).values(customer_id=kept_id))
    return {Stamp.__tablename__: moved.rowcount}
