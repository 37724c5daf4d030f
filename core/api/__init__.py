"""The REST API under /api/v1 (api.md), and the helper plugins use to mount theirs."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from sqlalchemy import select

from core.api.http import API_PREFIX, endpoint, openapi_path, principal, register_error_handlers, resolve_store
from core.errors import NotFound

__all__ = ["endpoint", "init_api", "plugin_blueprint", "principal", "resolve_store"]


def init_api(app) -> None:
    from core.api import analytics, catalog, classification, customers, plugins, privacy, sales

    register_error_handlers(app)
    root = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for module in (customers, sales, catalog, plugins, privacy, classification, analytics):
        root.register_blueprint(module.bp)
    root.add_url_rule("/openapi.json", "openapi", lambda: openapi_document(current_app))
    app.register_blueprint(root)


def plugin_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint mounted at /api/v1/<name> whose routes answer 404 in a store that has not
    enabled the plugin. The store is the till's own, or `?store=` / the JSON body's `store`."""
    bp = Blueprint(f"api_{name}", import_name, url_prefix=f"{API_PREFIX}/{name}")
    bp.storecrm_tag = name

    @bp.before_request
    def _only_where_enabled():
        from core.api.http import authenticate

        g.principal = authenticate()
        body = request.get_json(silent=True) if request.is_json else None
        code = request.args.get("store") or (body.get("store") if isinstance(body, dict) else None)
        store = resolve_store(code)
        if not current_app.extensions["storecrm.plugins"].is_enabled(store, name):
            raise NotFound(f"{name} is not enabled in store {store.code}")
        g.store = store

    @bp.after_request
    def _unit_of_work(response):
        # A plugin's endpoint commits when it answers without an error and rolls back when it
        # does not, as the core's own do: an endpoint that forgot `commit()` still stores.
        from core.extensions import db

        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    return bp


def openapi_document(app) -> dict:
    """The OpenAPI 3 document, generated from the schemas every endpoint declared."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(title="storecrm API", version="1", openapi_version="3.0.3", plugins=[marshmallow_plugin],
                   info={"description": "Customers, sales, visits and store modules. Errors: "
                                        "{\"error\": {\"code\", \"message\", \"fields\"}}."})
    marshmallow_plugin.converter.add_attribute_function(_money_as_string)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}}})
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions.get(rule.endpoint), "storecrm_operation", None)
        if op is None:
            continue
        operation = _operation(op)
        params = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer" if type(conv).__name__ == "IntegerConverter" else "string"}}
                  for name, conv in rule._converters.items()]
        if params:
            operation["parameters"] = params + operation.get("parameters", [])
        paths.setdefault(openapi_path(rule.rule), {})[op.method] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _json_numbers(spec.to_dict())


def _money_as_string(converter, field, **kwargs) -> dict:
    """Money goes over the wire as a decimal string ("28.00"): document it so."""
    from marshmallow import fields

    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    return {}


def _json_numbers(value, key: str | None = None):
    """apispec writes a Range's bounds through the field, so a money field's `minimum` comes
    out as the string "0.00", which is not a valid bound: make bounds (and Decimals) numbers."""
    from decimal import Decimal, InvalidOperation

    if key in ("minimum", "maximum") and isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return value
    if isinstance(value, dict):
        return {k: _json_numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _operation(op) -> dict:
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    out: dict = {"summary": op.summary, "tags": [op.tag], "responses": {}}
    if op.role is not None:
        out["security"] = [{"bearer": []}]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    if op.query is not None:
        out["parameters"] = [{"in": "query", "schema": op.query}]
    ok: dict = {"description": "OK"}
    if op.response is not None:
        if op.paginated:
            schema = {"type": "object", "properties": {"items": {"type": "array", "items": op.response},
                                                       "next_cursor": {"type": "string", "nullable": True}}}
        elif op.response_many:
            schema = {"type": "array", "items": op.response}
        else:
            schema = op.response
        ok["content"] = {"application/json": {"schema": schema}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    out["responses"][str(op.status)] = ok
    if op.status == 201 and op.rule.endswith("/sales") and op.method == "post":
        out["responses"]["200"] = {"description": "The same external_id was posted before: the first sale",
                                   "content": ok["content"]}
    for code in sorted(set(op.errors) | {500}):
        out["responses"][str(code)] = {"description": "Error", **error_ref}
    return out

