"""One run at a time of a long job (the nightly reclassification), across processes and hosts.

A run that commits in batches cannot be serialised by its transactions: two runs would
interleave their batches, do the work twice and write timeline entries twice. So the whole
run holds a named lock:

- PostgreSQL: a session-level advisory lock on a connection of its own, held for the run and
  released at the end. It dies with its connection, so a killed run never blocks the next.
- SQLite: a row in `job_lock` (SQLite's single writer serialises statements, not runs). A
  row left by a killed run is taken over when it has expired, when its process is gone (same
  host), or when the run taking it is the rq retry of the same job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import zlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update

from core.models.locks import JobLock
from core.models.types import utcnow

log = logging.getLogger(__name__)

_NAMESPACE = 0x5C0C  # the first key of storecrm's two-key advisory locks (the second names the job)


class LockHeld(Exception):
    """Another run holds the lock; `holder` and `since` say which, when known."""

    def __init__(self, name: str, holder: str | None, since: datetime | None):
        self.name, self.holder, self.since = name, holder, since
        who = f" by {holder}" if holder else ""
        when = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since else ""
        super().__init__(f"{name} is already running{who}{when}")


def _key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF  # an int4 PostgreSQL accepts, also as an oid


def _me() -> tuple[str, str | None]:
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # noqa: BLE001 - outside rq there is no current job
        job = None
    return f"{socket.gethostname()}:{os.getpid()}", (job.id if job is not None else None)


@contextlib.contextmanager
def run_lock(engine, name: str, ttl: timedelta, wait: float | None = None, poll: float = 1.0):
    """Hold lock `name` for the block. Raises LockHeld at once (or after `wait` seconds of
    polling) when another run holds it. `ttl` bounds a SQLite row of a run that died."""
    deadline = None if wait is None else time.monotonic() + wait
    take = _take_advisory if engine.dialect.name == "postgresql" else _take_row
    while True:
        try:
            release = take(engine, name, ttl)
            break
        except LockHeld:
            if deadline is None or time.monotonic() >= deadline:
                raise
            time.sleep(poll)
    try:
        yield
    finally:
        release()


def _take_advisory(engine, name: str, ttl: timedelta):
    conn = engine.connect()
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": _NAMESPACE, "key": _key(name)}).scalar()
        if not got:
            holder = conn.execute(text(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :ns AND l.objid = :key AND l.objsubid = 2"),
                {"ns": _NAMESPACE, "key": _key(name)}).first()
            conn.rollback()
            conn.close()
            if holder is None:
                raise LockHeld(name, None, None)
            raise LockHeld(name, f"PostgreSQL backend {holder.pid} ({holder.client_addr or 'local'})",
                           holder.backend_start.replace(tzinfo=None) if holder.backend_start else None)
        conn.commit()  # the lock is the session's, not the transaction's: do not sit idle in a transaction
    except LockHeld:
        raise
    except Exception:
        conn.close()
        raise

    def release():
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": _NAMESPACE, "key": _key(name)})
            conn.commit()
        except Exception:
            # The pool's reset on return does not end session-level locks: never pool this one.
            conn.invalidate()
            raise
        finally:
            conn.close()

    return release


def _alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's process: only the expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _take_row(engine, name: str, ttl: timedelta):
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    holder, job_id = _me()
    now = utcnow()
    mine = {"holder": holder, "job_id": job_id, "acquired_at": now, "expires_at": now + ttl}
    table = JobLock.__table__
    with engine.begin() as conn:
        inserted = conn.execute(sqlite_insert(table).values(name=name, **mine).on_conflict_do_nothing())
        if inserted.rowcount == 1:
            return lambda: _release_row(engine, name, holder)
        row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None:  # released between the two statements: the caller may try again
            raise LockHeld(name, None, None)
        stale = (row.expires_at <= now or not _alive(row.holder)
                 or (job_id is not None and row.job_id == job_id))
        if not stale:
            raise LockHeld(name, row.holder, row.acquired_at)
        # Compare and swap: of two runs finding the same stale row, one takes it.
        taken = conn.execute(update(table).where(table.c.name == name, table.c.holder == row.holder,
                                                 table.c.acquired_at == row.acquired_at).values(**mine))
        if taken.rowcount != 1:
            raise LockHeld(name, None, None)
    log.warning("%s: took over the lock left by %s (since %s)", name, row.holder, row.acquired_at)
    return lambda: _release_row(engine, name, holder)


def _release_row(engine, name: str, holder: str) -> None:
    table = JobLock.__table__
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder))
