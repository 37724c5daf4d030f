"""`GET /healthz` (the process answers) and `GET /readyz` (it can do its work).

Ready means: the database answers and its schema is current. Redis and the periodic-job
leader are reported but do not make a web process unready: sales go on while Redis is down
(jobs wait in the database, core/jobs.py), and taking every web process out of the load
balancer for it would turn a degraded chain into a stopped one."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from core.observability.outage import RETRY_AFTER_SECONDS, database_unavailable

bp = Blueprint("storecrm_health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    app = current_app._get_current_object()
    checks = readiness(app)
    ready = checks["database"]["ok"] and checks["migrations"]["ok"]
    response = jsonify({"ready": ready, "checks": checks})
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def readiness(app) -> dict:
    """Each part's state, as plain data (also what an operator reads in the JSON)."""
    return {"database": _database(app), "migrations": _migrations(app), **_redis_and_scheduler(app)}


def _database(app) -> dict:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from core.extensions import db

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        if database_unavailable(exc):
            app.extensions["storecrm.outage"].failed(exc)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _migrations(app) -> dict:
    from sqlalchemy.exc import SQLAlchemyError

    from core.extensions import db
    from core.migrate import by_owner, pending_message, pending_migrations

    try:
        with db.engine.connect() as conn:
            pending = pending_migrations(app, conn)
    except SQLAlchemyError as exc:
        return {"ok": False, "error": type(exc).__name__}
    if pending:
        return {"ok": False, "pending": by_owner(pending), "message": pending_message(pending)}
    return {"ok": True}


def _redis_and_scheduler(app) -> dict:
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    from core.observability.scheduler_state import IN_PROCESS, PeriodicStatus
    from core.observability.scheduler_state import periodic_status as read_status

    def periodic_status(app):
        # The scheduler's record is in the database: unreadable while it is down (reported there).
        try:
            return read_status(app)
        except SQLAlchemyError:
            mode = "redis" if app.extensions["storecrm.jobs"].uses_redis else IN_PROCESS
            return PeriodicStatus(mode=mode, leader=None)

    if not app.extensions["storecrm.jobs"].uses_redis:
        status = periodic_status(app)
        return {"redis": {"ok": True, "configured": False}, "scheduler": {"mode": status.mode, "leader": status.leader}}
    try:
        app.extensions["storecrm.jobs"].connection().ping()
        status = periodic_status(app)
    except RedisError as exc:
        return {"redis": {"ok": False, "configured": True, "error": type(exc).__name__},
                "scheduler": {"mode": "redis", "leader": None}}
    return {"redis": {"ok": True, "configured": True},
            "scheduler": {"mode": status.mode, "leader": status.leader,
                          "last_success": {name: at.isoformat() for name, at in sorted(status.last_success.items())}}}
