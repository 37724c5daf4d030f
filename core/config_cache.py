"""What every request reads and almost never changes — the caller's token, its store, the
plugins switched on there and their settings — kept per process and checked against one
number, the configuration version.

Any change to a configuration record (a model with `__config_record__ = True`: stores, store
plugins, users, API tokens, and whatever plugins mark, such as a membership program) bumps
the version in the same transaction, whichever process makes it. A request reads the version
once (one primary-key SELECT) and uses what this process cached under that version; a revoked
token or a switched-off module therefore counts on the next request everywhere, with no TTL.

Values change only through the ORM for this to hold: a configuration row edited by hand in
SQL is seen after a restart (or `storecrm` bumping the version, see `bump`).
"""

from __future__ import annotations

import secrets
import threading

from flask import current_app, g, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from core.extensions import db
from core.models.config import ConfigVersion
from core.models.prepared import Prepared

_G_KEY = "storecrm_config_version"
_UNVERSIONED = -1  # no version row (a database not upgraded yet): nothing is cached
# Built once (core/models/prepared.py): every request reads it.
VERSION = Prepared(lambda dialect: select(ConfigVersion.__table__.c.version).where(ConfigVersion.__table__.c.id == 1))


class ConfigCache:
    """Values loaded under a configuration version, per (kind, key). One per app: tests and
    other apps in the same process keep theirs apart. Bounded: cleared when it grows past
    `limit` entries (tokens come and go)."""

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self._values: dict[tuple, tuple[int, object]] = {}
        self._lock = threading.Lock()
        # When this process last wrote each API token's `last_used_at` (core.api.http.note_use).
        self.noted: dict[int, object] = {}

    def get(self, kind: str, key, version: int, load):
        """The value cached for (kind, key) under `version`, or `load()` cached now."""
        if version == _UNVERSIONED:
            return load()
        hit = self._values.get((kind, key))
        if hit is not None and hit[0] == version:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._values) >= self.limit:
                self._values.clear()
            self._values[(kind, key)] = (version, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def cache() -> ConfigCache:
    return current_app.extensions["storecrm.config_cache"]


def current_version(session=None) -> int:
    """The configuration version, read once per app context (a request, a job)."""
    if has_app_context() and _G_KEY in g:
        return g.get(_G_KEY)
    version = VERSION.execute(session or db.session).scalar()
    version = _UNVERSIONED if version is None else version
    if has_app_context():
        setattr(g, _G_KEY, version)
    return version


def forget_version() -> None:
    """This context changed the configuration: read the version anew before using the cache."""
    if has_app_context():
        g.pop(_G_KEY, None)


def cached(kind: str, key, load, session=None):
    """`load()` once per configuration version in this process."""
    return cache().get(kind, key, current_version(session), load)


def bump(connection) -> None:
    """A new version, never one used before: a random number rather than a count, so a
    version seen inside a transaction that was then rolled back never comes back naming other
    values."""
    connection.execute(update(ConfigVersion).where(ConfigVersion.id == 1).values(version=secrets.randbits(62)))


def _touches_configuration(session) -> bool:
    for obj in session.new:
        if getattr(obj, "__config_record__", False):
            return True
    for obj in session.deleted:
        if getattr(obj, "__config_record__", False):
            return True
    for obj in session.dirty:
        if getattr(obj, "__config_record__", False) and session.is_modified(obj, include_collections=True):
            return True
    return False


def init_config_cache(app) -> None:
    app.extensions["storecrm.config_cache"] = ConfigCache()
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush_postexec", _after_flush_postexec)


# is_modified() must be asked before the flush clears the changes: remember the answer.
_PENDING = "storecrm_config_changed"


def _before_flush(session, flush_context, instances) -> None:
    if _touches_configuration(session):
        session.info[_PENDING] = True


def _after_flush_postexec(session, flush_context) -> None:
    if session.info.pop(_PENDING, False):
        bump(session.connection())
        forget_version()
