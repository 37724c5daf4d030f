"""One schema upgrade at a time.

Two `storecrm db upgrade` started together (two hosts deploying at once, a deploy script run
twice) would both see the same migrations pending and both apply them; the second one dies
half-way on a duplicate table or key. So an upgrade holds a lock for its whole run:

- PostgreSQL: a session-level advisory lock, on a connection of its own (released when that
  connection closes, also when the process is killed);
- SQLite: an exclusive `flock` on a file beside the database file (released by the kernel
  when the process ends).

The second upgrade waits, then computes what is pending only once it holds the lock, so it
finds nothing left and says the database was already up to date."""

from __future__ import annotations

import contextlib
import fcntl
import os
import zlib

# storecrm's two-key advisory locks (core/locks.py): its namespace, then the lock's name.
ADVISORY_KEYS = {"namespace": 0x5C0C, "key": zlib.crc32(b"storecrm:schema-upgrade") & 0x7FFFFFFF}


@contextlib.contextmanager
def upgrade_lock(app, on_wait=None):
    """Hold the upgrade lock of `app`'s database for the duration of the block."""
    from core.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, on_wait):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(engine.url.database + ".upgrade-lock", on_wait):
            yield
    else:
        yield


@contextlib.contextmanager
def _advisory_lock(engine, on_wait):
    from sqlalchemy import text

    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:namespace, :key)"), ADVISORY_KEYS).scalar()
        if not got:
            if on_wait is not None:
                on_wait()
            conn.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), ADVISORY_KEYS)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), ADVISORY_KEYS)


@contextlib.contextmanager
def _file_lock(path: str, on_wait):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
