"""Rate limits per API token (docs/api.md, "Rate limits"), counted by Flask-Limiter in Redis
when the instance has one (shared by every web process), in memory otherwise.

Every API answer carries the standard `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (seconds); past the limit it is a 429 in the one error shape with
`Retry-After`. Flask-Limiter's own headers are off: it writes the reset as a timestamp and a
Retry-After on every answer."""

from __future__ import annotations

import hashlib
import time

from flask import request

from core.api.http import API_PREFIX


def caller_key() -> str:
    """The bearer token (hashed: the raw token never reaches the counters' store), else the
    client's address."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


def init_rate_limits(app) -> None:
    from flask_limiter import Limiter

    limiter = Limiter(
        caller_key,
        app=app,
        # One allowance per token across every route (application limits), not one per route.
        application_limits=[lambda: app.config["API_RATE_LIMIT"]],
        application_limits_exempt_when=lambda: not request.path.startswith(API_PREFIX + "/"),
        storage_uri=app.config.get("REDIS_URL") or "memory://",
        strategy="fixed-window",
        headers_enabled=False,
        key_prefix="storecrm-api",
        enabled=bool(app.config.get("API_RATE_LIMIT_ENABLED", True)),
        # A Redis outage must not stop the tills: requests then go through uncounted (logged).
        swallow_errors=True,
    )

    @app.after_request
    def _rate_limit_headers(response):
        current = limiter.current_limit if limiter.enabled else None
        if current is None or not request.path.startswith(API_PREFIX + "/"):
            return response
        try:
            reset_in = max(0, int(current.reset_at - time.time()))
            response.headers["RateLimit-Limit"] = str(current.limit.amount)
            response.headers["RateLimit-Remaining"] = str(max(0, current.remaining))
            response.headers["RateLimit-Reset"] = str(reset_in)
            if response.status_code == 429:
                response.headers["Retry-After"] = str(max(1, reset_in))
        except Exception:  # noqa: BLE001 - the counters' store is unreachable: no headers, no failure
            app.logger.warning("rate limit headers unavailable", exc_info=True)
        return response
