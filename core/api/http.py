"""The API's plumbing: bearer auth, the one error shape, schema-checked input, cursor
pagination, and the registry of operations that the OpenAPI document is generated from."""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Blueprint, abort, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import HTTPException

from core.config_cache import cache as config_cache
from core.config_cache import cached
from core.errors import DomainError, Forbidden, InvalidInput, NotFound, PreconditionFailed
from core.extensions import db
from core.models import ApiToken, Store, User, utcnow
from core.models.user import ROLE_RANK
from core.services.store_plugins import flatten_errors

API_PREFIX = "/api/v1"
ID_MAX = 2**31 - 1


# --- errors -------------------------------------------------------------------------------------

def error_response(status: int, code: str, message: str, fields: dict | None = None, details: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    if details:
        body["error"].update(details)
    response = jsonify(body)
    response.status_code = status
    return response


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              409: "conflict", 412: "precondition_failed", 413: "too_large", 415: "unsupported_media_type", 422: "unprocessable",
              429: "too_many_requests", 503: "service_unavailable"}


def register_error_handlers(app) -> None:
    def is_api() -> bool:
        return request.path.startswith(API_PREFIX)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        db.session.rollback()
        if not is_api():
            from core.admin.errors import admin_error_page, is_admin_page

            # An admin page that meets a missing or refused record: the admin's page, not JSON
            # (a form's own 400/422 stays with the form or the script that reads it).
            page = admin_error_page(exc) if is_admin_page() and exc.status in (403, 404) else None
            if page is not None:
                return page
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.details)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        db.session.rollback()
        return error_response(400, "validation_error", "The request has invalid fields.", flatten_errors(exc.messages))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not is_api():
            from core.admin.errors import admin_error_page, is_admin_page

            page = admin_error_page(exc) if is_admin_page() and (exc.code or 500) >= 400 else None
            return page if page is not None else exc
        return error_response(exc.code or 500, HTTP_CODES.get(exc.code, "error"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        from core.observability.outage import database_unavailable, outage_response

        if database_unavailable(exc):
            db.session.remove()  # its connection is gone; the next request starts afresh
            return outage_response(exc)
        db.session.rollback()
        if is_api() and out_of_range(exc):
            # The schemas bound what they can; a value the database or Python still cannot
            # represent (a date past year 9999 in UTC, an integer past 64 bits) is the
            # caller's input, not our fault: a 400 in the one shape.
            current_app.logger.warning("out-of-range input on %s %s: %s", request.method, request.path,
                                       type(exc).__name__)
            return error_response(400, "out_of_range", "A value in the request is out of range.")
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not is_api():
            raise exc
        # Never a stack trace (or a customer's data inside one) in the answer.
        return error_response(500, "internal_error", "Something went wrong; the error was logged.")


def out_of_range(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says an input value cannot be represented."""
    from sqlalchemy.exc import DataError, StatementError

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (OverflowError, RecursionError, UnicodeError, DataError)):
            return True
        if isinstance(exc, StatementError) and isinstance(exc.orig, (OverflowError, ValueError, UnicodeError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# --- who is asking ------------------------------------------------------------------------------

@dataclass
class Principal:
    """The caller behind a bearer token: a till (store token) or a person (user token)."""

    token: ApiToken
    store: Store | None = None
    user: User | None = None

    @property
    def name(self) -> str:
        return self.user.username if self.user else f"till:{self.store.code}:{self.token.name}"

    @property
    def role(self) -> str:
        # A till acts at staff level in its own store.
        return self.user.role if self.user else "staff"

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def is_owner(self) -> bool:
        return self.user is not None and self.user.role == "owner"

    def store_ids(self) -> list[int] | None:
        """The stores this caller acts in; None means every store (an owner)."""
        if self.store is not None:
            return [self.store.id]
        if self.user.role == "owner":
            return None
        return [s.id for s in self.user.stores]

    def can_act_in(self, store: Store) -> bool:
        ids = self.store_ids()
        return ids is None or store.id in ids

    @property
    def reveals_personal_data(self) -> bool:
        return self.user is not None and self.user.at_least("manager")


def authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, "A bearer token is required: Authorization: Bearer <token>.")
    token_hash = ApiToken.hash(header[7:].strip())
    session = db.session()
    # The token with its store and person, cached in this process under the configuration
    # version (core/config_cache.py): one primary-key SELECT of the version per request, and a
    # revoked token, a deactivated person or a moved store counts at once in every process.
    template = cached("api_token", token_hash, lambda: _token_template(session, token_hash), session)
    if template is None:
        abort(401, "The token is unknown or revoked.")
    # A copy of the cached, detached rows for this request's session, without a query.
    token = session.merge(template, load=False)
    if token.revoked or (token.user is not None and not token.user.active):
        abort(401, "The token is unknown or revoked.")
    note_use(token)
    return Principal(token=token, store=token.store, user=token.user)


def _token_template(session, token_hash: str) -> ApiToken | None:
    """The token, its store and its person (with their stores), loaded and then detached."""
    token = session.scalars(select(ApiToken)
                            .options(joinedload(ApiToken.store), joinedload(ApiToken.user).selectinload(User.stores))
                            .where(ApiToken.token_hash == token_hash)).first()
    if token is None:
        return None
    for obj in (token, token.store, token.user, *(token.user.stores if token.user else ())):
        if obj is not None:
            session.expunge(obj)
    return token


# A till calls many times a minute: `last_used_at` is written at most this often per token.
LAST_USED_EVERY = timedelta(minutes=5)


def note_use(token: ApiToken) -> None:
    """Set the token's `last_used_at` when it is older than LAST_USED_EVERY (or never set).

    Most requests find it recent (this process remembers when it last wrote it) and send
    nothing. Otherwise one conditional UPDATE (a concurrent request that already wrote it
    matches nothing) committed at once, before the request's own work, without expiring the
    token, store and user just loaded."""
    now = utcnow()
    every = current_app.config.get("API_TOKEN_LAST_USED_EVERY", LAST_USED_EVERY)
    noted = config_cache().noted
    last = noted.get(token.id, token.last_used_at)
    if last is not None and last > now - every:
        return
    noted[token.id] = now
    session = db.session()
    session.execute(update(ApiToken)
                    .where(ApiToken.id == token.id,
                           or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - every))
                    .values(last_used_at=now).execution_options(synchronize_session=False))
    set_committed_value(token, "last_used_at", now)
    commit_keeping_loaded(session)


def commit_keeping_loaded(session) -> None:
    """Commit without expiring what the request has loaded (its token, store, user): their
    values are still true, and reloading them would cost a statement each."""
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def principal() -> Principal:
    return g.principal


def resolve_store(code: str | None) -> Store:
    """The store a request acts in: a till's own, or the one a person names (`store`)."""
    who = principal()
    if code is not None and (not isinstance(code, str) or "\x00" in code):
        # A NUL cannot be in a store code (nor in PostgreSQL text): 400, not a database error.
        raise InvalidInput("store must be a store code", fields={"store": ["Not a store code."]})
    if code:
        _refuse_nul(code, "store")  # read from any query or body, also before a schema runs
    if who.store is not None:
        if code and code != who.store.code:
            raise Forbidden(f"this token acts only in store {who.store.code}")
        return who.store
    if not code:
        stores = who.user.stores
        if who.user.role != "owner" and len(stores) == 1:
            return stores[0]
        raise InvalidInput("name the store", fields={"store": ["Missing store code."]})
    store = db.session.scalars(select(Store).where(Store.code == code)).first()
    if store is None:
        raise NotFound(f"no store {code}")
    if not who.can_act_in(store):
        raise Forbidden(f"you do not work in store {code}")
    return store


# --- operations and their documentation -------------------------------------------------------------

@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    response_many: bool = False
    status: int = 200
    paginated: bool = False
    role: str | None = "staff"
    errors: tuple[int, ...] = field(default_factory=tuple)
    operation_id: str = ""
    idempotent: bool = False
    etag: bool = False
    description: str | None = None
    example: dict | None = None
    doc_body: object = None
    doc_response: object = None
    also: tuple[int, ...] = ()
    chain_wide: bool = False


def endpoint(bp: Blueprint, rule: str, method: str = "GET", *, summary: str, body=None, query=None, response=None,
             many: bool = False, status: int = 200, paginated: bool = False, role: str | None = "staff",
             errors: tuple[int, ...] = (), operation_id: str | None = None, idempotent: bool | None = None,
             etag=None, description: str | None = None, example: dict | None = None, doc_body=None,
             doc_response=None, also: tuple[int, ...] = (), chain_wide: bool = False):
    """Route + auth + schema-checked input + an entry in the OpenAPI document.

    The view receives `body=` (loaded body) and/or `args=` (loaded query) when schemas are given.
    `operation_id`: the client's function name (default: the view's name in camelCase).
    `idempotent`: the operation honours an `Idempotency-Key` header (default: every POST).
    `etag`: a function of the path arguments returning the resource's state (any JSON data);
    its hash is the answer's ETag, and a PUT/PATCH whose `If-Match` is not it is a 412.
    `example`: a request body example for the document (else one is made from the schema).
    `doc_body` / `doc_response`: a Schema (or OpenAPI dict) documenting a body the view reads
    itself or an answer it builds itself; `also`: other success statuses it answers with.
    `chain_wide`: a plugin route about the whole chain (its program, its tiers): an owner may
    call it without naming a store."""
    tag = getattr(bp, "storecrm_tag", bp.name)
    # Ids are 32-bit in the database: a larger number is an unknown id (404), not a 500.
    rule = rule.replace("<int:", f"<int(max={ID_MAX}):")
    if idempotent is None:
        idempotent = method.upper() == "POST"
    if getattr(bp, "storecrm_plugin", False):
        # A module's routes first find the store (400 unnamed, 403 not the caller's, 404 off there).
        errors = tuple(sorted(set(errors) | {400, 403, 404}))

    def decorator(view):
        op = Operation(rule=(bp.url_prefix or "") + rule, method=method.lower(), summary=summary, tag=tag, body=body,
                       query=query, response=response, response_many=many, status=status, paginated=paginated,
                       role=role, errors=errors, operation_id=operation_id or camel_case(view.__name__),
                       idempotent=idempotent, etag=etag is not None, description=description, example=example,
                       doc_body=doc_body, doc_response=doc_response, also=also, chain_wide=chain_wide)
        bp.storecrm_operations = getattr(bp, "storecrm_operations", [])
        bp.storecrm_operations.append(op)

        @functools.wraps(view)
        def wrapped(**kwargs):
            from core.api import idempotency

            if role is not None:
                g.principal = authenticate()
                if not g.principal.at_least(role):
                    raise Forbidden(f"this needs the {role} role")
            _refuse_nul({k: v for k, v in kwargs.items() if isinstance(v, str)}, "_path")
            payload = None
            if body is not None:
                payload = json_body()
                _refuse_nul(payload, "_body")
            claimed = None
            if idempotent and role is not None and idempotency.HEADER in request.headers:
                try:
                    claimed = idempotency.claim(g.principal.token.id, payload)
                except idempotency.Replay as replay:
                    return replay.response()
            try:
                if body is not None:
                    kwargs["body"] = schema_instance(body).load(payload)
                if query is not None:
                    _refuse_nul(request.args.to_dict(), "_query")
                    kwargs["args"] = schema_instance(query).load(request.args.to_dict())
                if etag is not None and method.upper() in ("PUT", "PATCH"):
                    check_if_match(etag(**kwargs_of_path(kwargs)))
                result = view(**kwargs)
                answer = current_app.make_response(_dump(result, op) if response is not None else result)
                if etag is not None and answer.status_code < 300:
                    answer.set_etag(etag_of(etag(**kwargs_of_path(kwargs))))
            except (DomainError, ValidationError, HTTPException):
                if claimed is not None:
                    idempotency.release(claimed)
                raise
            if claimed is not None:
                idempotency.finish(claimed, answer)
            return answer

        wrapped.storecrm_operation = op
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
        return wrapped

    return decorator


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def kwargs_of_path(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in ("body", "args")}


def etag_of(state) -> str:
    """The ETag of a resource's state: a hash, so it tells nothing of a masked field."""
    from core.services.fingerprint import digest

    return digest(state)[:32]


def check_if_match(state) -> None:
    """A stale `If-Match` (the resource changed since the caller read it) is a 412. Without the
    header the update goes through (docs/api.md): older tills send none."""
    if_match = request.if_match
    if not if_match or if_match.star_tag:
        return
    if not if_match.contains(etag_of(state)):
        raise PreconditionFailed("the resource changed since you read it: read it again (its ETag) and retry",
                                 fields={"If-Match": ["Not the current ETag."]})


def json_body():
    """The request's JSON document, or a 400 saying why it is not one."""
    from core.api.jsonio import InvalidJSON

    if not request.is_json:
        raise InvalidInput("The body must be a JSON object.", fields={"_body": ["Send JSON (Content-Type: application/json)."]})
    try:
        return current_app.json.loads(request.get_data(cache=True))
    except InvalidJSON as exc:
        raise InvalidInput(f"The body is not acceptable JSON: {exc}.", fields={"_body": [str(exc)]}) from exc
    except ValueError as exc:
        raise InvalidInput("The body must be a JSON object.", fields={"_body": ["Send JSON."]}) from exc


def _refuse_nul(value, where: str, depth: int = 0) -> None:
    """No text a shop keeps contains a NUL character, and PostgreSQL cannot store one: refuse
    it at the door (400) rather than fail at the database (500)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("text must not contain NUL characters", fields={where: ["Contains a NUL character."]})
    elif isinstance(value, dict) and depth < 32:
        for key, item in value.items():
            _refuse_nul(key, where, depth + 1)
            _refuse_nul(item, f"{key}" if where.startswith("_") else f"{where}.{key}", depth + 1)
    elif isinstance(value, list) and depth < 32:
        for i, item in enumerate(value):
            _refuse_nul(item, f"{where}.{i}", depth + 1)


@functools.lru_cache(maxsize=None)
def schema_instance(schema: type[Schema], many: bool = False) -> Schema:
    """One instance per schema class (and `many`), reused by every request: building a
    schema copies its declared fields, a measurable share of a small request's time.
    load and dump keep no per-call state on the instance (our schemas use no `context`), so
    threads may share one."""
    return schema(many=many)


def _dump(result, op: Operation):
    status = None
    if isinstance(result, tuple):
        result, status = result
    if op.paginated:
        result = {"items": schema_instance(op.response, True).dump(result["items"]), "next_cursor": result["next_cursor"]}
    else:
        result = schema_instance(op.response, op.response_many).dump(result)
    return (result, status) if status else result


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule)


# --- pagination --------------------------------------------------------------------------------------

def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if type(after) is not int or not 0 <= after <= ID_MAX:  # an id the database can hold
            raise ValueError(after)
        return after
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's mistake
        raise InvalidInput("invalid cursor", fields={"cursor": ["Not a cursor this API gave out."]}) from exc


def keyset_page(stmt, id_column, cursor: str | None, limit: int):
    """One page of `stmt` ordered by `id_column`, stable under inserts. Returns (rows, next)."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column > after)
    # unique(): a page may join its rows' collections (one row per customer and tag).
    rows = list(db.session.scalars(stmt.order_by(id_column).limit(limit + 1)).unique())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor

