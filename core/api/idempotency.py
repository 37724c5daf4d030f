"""`Idempotency-Key` on every create (docs/api.md, "Retrying safely").

The first request with a key claims it in a row of its own, committed before the work starts
(the unique (token, key) constraint makes a concurrent duplicate find that claim instead of
doing the work twice). A successful (2xx) answer is kept on the row and replayed to a repeat
of the same request; an error releases the key so the fixed request can be sent with it again.
A repeat with a different request is a 422 naming the fields that differ."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.api.http import commit_keeping_loaded
from core.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidInput
from core.extensions import db
from core.models import IdempotencyKey, utcnow
from core.services.fingerprint import differing, digest, fingerprint

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII without spaces, as a UUID or a till's receipt number is.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# How long a key and its answer are kept: a retry comes within seconds or hours, not days.
KEEP_FOR = timedelta(hours=24)


def keep_for() -> timedelta:
    return current_app.config.get("API_IDEMPOTENCY_KEEP_FOR", KEEP_FOR)


def claim(token_id: int, payload) -> IdempotencyKey | None:
    """The key this request claims (None without the header). A repeat of a finished request
    raises `Replay` carrying the first answer; a different request with the key, a 422; a
    repeat while the first one runs, a 409."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidInput("the Idempotency-Key header must be 1 to 255 printable characters without spaces",
                           fields={HEADER: ["1 to 255 printable ASCII characters, no spaces."]})
    operation = f"{request.method} {request.path}"
    sent = {**fingerprint(payload if payload is not None else {}), "_operation": digest(operation)[:16]}
    if request.args:
        sent["_query"] = digest(request.args.to_dict(flat=False))[:16]
    request_hash = digest(sent)
    session = db.session()
    cutoff = utcnow() - keep_for()
    # Keys past their time are forgotten (any token's: one indexed statement, only on requests
    # that carry a key), so the same key may then name a new request.
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
                    .execution_options(synchronize_session=False))
    row = IdempotencyKey(token_id=token_id, key=key, operation=operation[:500], request_hash=request_hash,
                         fingerprint=sent)
    session.add(row)
    try:
        commit_keeping_loaded(session)
        return row
    except IntegrityError:
        session.rollback()
    first = session.scalars(select(IdempotencyKey).where(IdempotencyKey.token_id == token_id,
                                                         IdempotencyKey.key == key)).first()
    if first is None:  # released by its failing first request a moment ago: claim it again
        return claim(token_id, payload)
    if first.request_hash != request_hash:
        fields = differing(first.fingerprint or {}, sent)
        raise IdempotencyKeyReused(
            "this Idempotency-Key was sent before with a different request",
            fields={HEADER if name == "_operation" else name:
                    ["Used before for another operation." if name == "_operation"
                     else "Differs from the first request sent with this key."] for name in fields})
    if first.status is None:
        raise IdempotencyInProgress("the first request with this Idempotency-Key has not finished; "
                                    "check whether it took effect before sending it with a new key")
    raise Replay(first.status, first.response or "")


class Replay(Exception):
    """The first answer to this request, to be sent again unchanged."""

    def __init__(self, status: int, body: str):
        super().__init__(status)
        self.status, self.body = status, body

    def response(self):
        response = current_app.response_class(self.body, status=self.status, mimetype="application/json")
        response.headers[REPLAYED_HEADER] = "true"
        return response


def finish(row: IdempotencyKey, response) -> None:
    """Keep a 2xx answer for the repeats; release the key after any other."""
    session = db.session()
    if 200 <= response.status_code < 300:
        row.status = response.status_code
        row.response = response.get_data(as_text=True)
    else:
        session.delete(row)
    commit_keeping_loaded(session)


def release(row: IdempotencyKey) -> None:
    """The request failed before answering (its work was rolled back): the key is free again."""
    session = db.session()
    session.rollback()
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id)
                    .execution_options(synchronize_session=False))
    commit_keeping_loaded(session)
