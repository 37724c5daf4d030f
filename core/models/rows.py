"""ORM objects written with a Core INSERT, then joined to the session as if loaded from it.

Flushing a new object through the ORM's unit of work costs ~250 µs of Python per statement;
the till writes a sale and, for a new phone, a profile on every such sale. A Core INSERT of the
same values (the model's Python defaults filled in, the same bind processing: encryption, UTC)
costs a fraction of that. The object then joins the session as persistent: its id set, nothing
left to flush, every column known (no load on first read).

A rollback must forget such an object as it forgets one the unit of work inserted: its row is
gone, and SQLite hands the same id out again (the next profile or sale could not join the
session under it, and a lookup holding the object would find a row that does not exist).
`track_joined_rows` makes every rollback, of a savepoint or of the whole transaction, expunge
the objects joined inside it."""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import make_transient_to_detached, scoped_session

# session.info key: {SessionTransaction: [objects joined while it was the innermost one]}
JOINED_KEY = "storecrm.rows.joined"


def fill_defaults(obj) -> dict:
    """The object's column values with the model's Python defaults filled in (as the ORM would
    on INSERT: None means "the default"), set on the object too, so nothing is left to load."""
    row = {}
    for prop in inspect(type(obj)).column_attrs:
        column = prop.columns[0]
        value = obj.__dict__.get(prop.key)
        if value is None and not column.primary_key and column.default is not None:
            default = column.default
            value = default.arg if default.is_scalar else default.arg(None)
            setattr(obj, prop.key, value)
        elif prop.key not in obj.__dict__:
            setattr(obj, prop.key, None)
        if not column.primary_key:
            row[column.name] = value
    return row


def join_as_loaded(session, *objs) -> None:
    """Add objects whose rows were just INSERTed (ids set) as persistent: no INSERT at the next
    flush, nothing dirty. The first one's cascades bring the others along if related. A
    rollback of the transaction they were written in expunges them (`track_joined_rows`)."""
    if isinstance(session, scoped_session):
        session = session()  # the request's Session, whose transactions are tracked
    for obj in objs:
        make_transient_to_detached(obj)
    session.add(objs[0])
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(JOINED_KEY, {}).setdefault(transaction, []).extend(objs)


def _forget_rolled_back(session, previous_transaction) -> None:
    joined = session.info.get(JOINED_KEY)
    if not joined:
        return
    # The transaction rolled back and the savepoints inside it (released or not): their rows are gone.
    for transaction in list(joined):
        t = transaction
        while t is not None and t is not previous_transaction:
            t = t.parent
        if t is None:
            continue
        for obj in joined.pop(transaction):
            if obj in session:
                session.expunge(obj)


def _forget_committed(session) -> None:
    # SQLAlchemy reports a savepoint's release as a commit too: only the outermost one settles them.
    if session.get_nested_transaction() is None:
        session.info.pop(JOINED_KEY, None)


def track_joined_rows(session_class) -> None:
    """Listen to `session_class`'s rollbacks and commits (once per process)."""
    if not event.contains(session_class, "after_soft_rollback", _forget_rolled_back):
        event.listen(session_class, "after_soft_rollback", _forget_rolled_back)
        event.listen(session_class, "after_commit", _forget_committed)
