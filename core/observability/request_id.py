"""`X-Request-Id` on every response, and on every log line of the request.

A till or a proxy (nginx's `$request_id`) may send its own id so one sale can be followed from
the till's log through nginx to ours; an id that is too long or carries characters outside a
plain token is replaced by a new one rather than copied into logs and headers."""

from __future__ import annotations

import re
import uuid

from flask import g, request

HEADER = "X-Request-Id"
_ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    return g.get("request_id")


def _incoming_or_new() -> str:
    given = request.headers.get(HEADER, "")
    return given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex


def init_request_id(app) -> None:
    @app.before_request
    def _assign():
        g.request_id = _incoming_or_new()

    @app.after_request
    def _echo(response):
        # A request refused before `before_request` ran (a 413, a routing error) still gets one.
        if "request_id" not in g:
            g.request_id = _incoming_or_new()
        response.headers[HEADER] = g.request_id
        return response
