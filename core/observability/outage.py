"""While the database cannot be reached: 503 with `Retry-After`, and one log line per outage.

A till retries a 503 that says when; a 500 looks like a bug in the request. And a traceback per
request during a two-minute PostgreSQL restart buries the one line an operator needs, so each
process logs the start of an outage once (with the driver's reason), counts the requests it
refused, and logs once more when a new connection to the database succeeds."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("storecrm.database")

RETRY_AFTER_SECONDS = 10
# PostgreSQL error classes that mean "no usable connection": 08 connection exception,
# 57P01-57P03 the server shutting down, crashed or not yet accepting connections.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (not that a statement failed)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith(_UNAVAILABLE_STATES)
    module = type(orig).__module__ or ""
    if module.startswith("psycopg"):
        # psycopg raises OperationalError without a SQLSTATE when it cannot connect at all.
        return isinstance(exc, OperationalError)
    if module.startswith("sqlite3"):
        return "unable to open database file" in str(orig)
    return False


class OutageLog:
    """One process's view of the database's reachability, for its log."""

    def __init__(self):
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.refused = 0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.refused += 1
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        log.error("database unreachable, answering 503 until it is back: %s: %s", type(exc).__name__, reason[:300])

    def connected(self) -> None:
        with self._lock:
            if self.down_since is None:
                return
            seconds, refused = time.monotonic() - self.down_since, self.refused
            self.down_since, self.refused = None, 0
        log.warning("database reachable again after %.0f s; %d request(s) were answered 503", seconds, refused)


def init_outage_log(app) -> None:
    from sqlalchemy import event

    from core.extensions import db

    outage = app.extensions["storecrm.outage"] = OutageLog()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "connect", lambda dbapi_connection, record: outage.connected())


# Fixed text, not gettext: choosing a language may read the signed-in user from the database,
# which is what is missing. The admin page shows both languages, Chinese first.
API_MESSAGE = "The service is briefly unavailable: its database cannot be reached. Try again shortly."
PAGE_TEXT = "服务暂时不可用：无法连接数据库，请稍后重试。\n" + API_MESSAGE + "\n"


def outage_response(exc: BaseException):
    """The answer to a request that failed for want of a database: the API's error shape, or a
    plain page for the admin; both with Retry-After."""
    from flask import current_app, request

    from core.api.http import API_PREFIX, error_response

    current_app.extensions["storecrm.outage"].failed(exc)
    if request.path.startswith(API_PREFIX):
        response = error_response(503, "service_unavailable", API_MESSAGE)
    else:
        response = current_app.response_class(PAGE_TEXT, status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
