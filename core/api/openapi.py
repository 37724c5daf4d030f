"""The OpenAPI 3.0 document at /api/v1/openapi.json, generated from the operations every
endpoint declared (core.api.http.endpoint) and their marshmallow schemas, written so that a
generated client needs no hand-written type: an operationId per operation, `required` on what
the server always answers, nullable references the 3.0 way (allOf + nullable), enums for closed
sets, money as `format: decimal` strings, an example per operation and a description per
parameter. docs/api.md tells the policies the document cannot."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import request

from core.api.http import API_PREFIX, HTTP_CODES, openapi_path
from core.api.openapi_shape import (
    PARAMETER_DESCRIPTIONS, add_examples, describe_parameters, named_enums, nullable_refs, optional_fields,
    pascal, require_output_fields, x_refs, example_of,
)

REF = "#/components/schemas/"
# Codes the API answers with besides the DomainError classes' and HTTP_CODES.
EXTRA_ERROR_CODES = ("validation_error", "internal_error", "out_of_range", "error")




def server_url(app) -> str:
    configured = app.config.get("API_PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    return request.url_root.rstrip("/") if request else "http://localhost:5000"


def error_codes() -> list[str]:
    """Every `error.code` the API answers with: the domain errors' (core's and the plugins',
    found as subclasses once the plugins are imported), the HTTP ones and a few fixed ones."""
    from core.errors import DomainError

    codes, stack = set(HTTP_CODES.values()) | set(EXTRA_ERROR_CODES), [DomainError]
    while stack:
        cls = stack.pop()
        codes.add(cls.code)
        stack.extend(cls.__subclasses__())
    return sorted(codes)


def error_components() -> dict:
    detail = {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": error_codes(), "x-enum-name": "ErrorCode",
                     "description": "What went wrong, for programs (docs/api.md lists them); new codes may be added "
                                    "in a minor version"},
            "message": {"type": "string", "description": "What went wrong, for people"},
            "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                       "description": "Field path (`lines.0.quantity`) -> what is wrong with it"},
            "existing_id": {"type": "integer", "description": "409 on a phone or card in use: the existing "
                                                              "profile, when the caller sees it"},
            "already_in_chain": {"type": "boolean", "description": "409: the person is a customer of the chain "
                                                                   "this store does not see yet"},
            "serve_here": {"type": "object", "description": "409: how to serve that person here",
                           "properties": {"method": {"type": "string"}, "path": {"type": "string"},
                                          "body": {"type": "array", "items": {"type": "string"}}}},
        },
        "additionalProperties": True,
    }
    wrapper = {"type": "object", "required": ["error"], "properties": {"error": {"$ref": REF + "ErrorDetail"}},
               "example": {"error": {"code": "validation_error", "message": "The request has invalid fields.",
                                     "fields": {"lines.0.quantity": ["Must be greater than 0."]}}}}
    return {"ErrorDetail": detail, "Error": wrapper}


RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests allowed in the current window for this token",
                        "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in the current window", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets", "schema": {"type": "integer"}},
}
ETAG_HEADER = {"ETag": {"description": "The resource's current version: send it as If-Match to update it",
                        "schema": {"type": "string"}}}
COMMON_PARAMETERS = {
    "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "Makes a retry safe: the same key with the same request answers the first "
                                      "answer again (header Idempotent-Replayed: true); with a different request, "
                                      "422 idempotency_key_reused. Kept 24 hours per token (docs/api.md).",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                       "example": "9b2f6c1e-1f0a-4d8e-9a57-2d2f8f1e7c11"},
    "IfMatch": {"name": "If-Match", "in": "header", "required": False,
                "description": "The ETag you read: when the resource has changed since, 412 precondition_failed "
                               "and nothing is written. Without it the update goes through.",
                "schema": {"type": "string"}, "example": "\"3f8a1c0d9e2b4a7f8c6d5e4f3a2b1c0d\""},
}


class SchemaNames:
    """A schema's component name: its class name (less "Schema"); when two modules both have a
    `ReportOut`, the later one is named after its module (`CampaignsReportOut`), not `ReportOut1`."""

    def __init__(self):
        self.names: dict[type, str] = {}

    def __call__(self, schema) -> str:
        from apispec.ext.marshmallow.common import resolve_schema_cls

        cls = resolve_schema_cls(schema)
        if cls in self.names:
            return self.names[cls]
        name = cls.__name__[:-6] if cls.__name__.endswith("Schema") and len(cls.__name__) > 6 else cls.__name__
        if name in self.names.values():
            parts = cls.__module__.split(".")
            owner = parts[1] if parts[0] == "plugins" and len(parts) > 1 else parts[-1]
            name = pascal(owner) + name
        self.names[cls] = name
        return name


def openapi_document(app) -> dict:
    """The OpenAPI 3 document, generated from the schemas every endpoint declared."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    marshmallow_plugin = MarshmallowPlugin(schema_name_resolver=SchemaNames())
    spec = APISpec(
        title="storecrm API", version="1", openapi_version="3.0.3", plugins=[marshmallow_plugin],
        servers=[{"url": server_url(app), "description": "This storecrm server (paths start with /api/v1)"}],
        info={"description": "Customers, sales, visits and store modules. Errors have one shape: "
                             "{\"error\": {\"code\", \"message\", \"fields\"}}. Versioning, idempotency, rate limits "
                             "and ETags: docs/api.md."})
    marshmallow_plugin.converter.add_attribute_function(_money_as_string)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, component in error_components().items():
        spec.components.schema(name, component)
    for name, parameter in COMMON_PARAMETERS.items():
        spec.components.parameter(name, parameter["in"], {k: v for k, v in parameter.items() if k != "in"})
    paths: dict[str, dict] = {}
    etag_ops = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions.get(rule.endpoint), "storecrm_operation", None)
        if op is None:
            continue
        operation = _operation(op, app)
        params = [{"name": name, "in": "path", "required": True, "description": _path_description(name),
                   "schema": {"type": "integer" if type(conv).__name__ == "IntegerConverter" else "string"}}
                  for name, conv in rule._converters.items()]
        if params:
            operation["parameters"] = params + operation.get("parameters", [])
        path = openapi_path(rule.rule)
        paths.setdefault(path, {})[op.method] = operation
        if op.etag:
            etag_ops.add((path, op.method))
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    doc = _json_numbers(spec.to_dict())
    nullable_refs(doc)
    x_refs(doc)
    named_enums(doc)
    require_output_fields(doc, optional_fields(marshmallow_plugin))
    describe_parameters(doc)
    add_examples(doc)
    _check_operation_ids(doc)
    return doc


# --- one operation ---------------------------------------------------------------------------------

def _content(schema) -> dict:
    return {"application/json": {"schema": schema}}


def _documented(schema, app):
    """A Schema class or OpenAPI dict as it is, or one a function of the app builds (a body
    that depends on the installed modules)."""
    if callable(schema) and not isinstance(schema, type):
        return schema(app)
    return schema


def _operation(op, app) -> dict:
    error_ref = {"content": _content({"$ref": REF + "Error"})}
    out: dict = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag], "responses": {}}
    if op.description:
        out["description"] = op.description
    if op.role is not None:
        out["security"] = [{"bearer": []}]
    body = op.body if op.body is not None else _documented(op.doc_body, app)
    if body is not None:
        out["requestBody"] = {"required": True, "content": _content(body)}
        if op.example is not None:
            out["requestBody"]["content"]["application/json"]["example"] = op.example
    parameters = []
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if op.idempotent and op.role is not None:
        parameters.append("IdempotencyKey")  # a registered component: apispec writes the $ref
    if op.etag and op.method in ("put", "patch"):
        parameters.append("IfMatch")
    if parameters:
        out["parameters"] = parameters
    ok: dict = {"description": "OK" if op.status == 200 else "Created" if op.status == 201 else "Accepted"}
    answer = op.response if op.response is not None else _documented(op.doc_response, app)
    if answer is not None:
        if op.paginated:
            schema = {"type": "object", "required": ["items", "next_cursor"],
                      "properties": {"items": {"type": "array", "items": answer},
                                     "next_cursor": {"type": "string", "nullable": True,
                                                     "description": "The cursor of the next page; null on the last"}}}
        elif op.response_many:
            schema = {"type": "array", "items": answer}
        else:
            schema = answer
        ok["content"] = _content(schema)
    else:
        ok["content"] = _content({"type": "object"})
    headers = dict(RATE_HEADERS) if op.role is not None else {}
    if op.etag:
        headers.update(ETAG_HEADER)
    if headers:
        ok["headers"] = headers
    out["responses"][str(op.status)] = ok
    if op.status == 201 and op.rule.endswith("/sales") and op.method == "post":
        out["responses"]["200"] = {"description": "The same external_id was posted before with the same sale: "
                                                  "the first sale", "content": ok["content"], "headers": headers}
    for status in op.also:
        out["responses"][str(status)] = {"description": "Also", "content": ok["content"]}
    errors = set(op.errors) | {500}
    if op.role is not None:
        errors |= {401, 429}
    if op.idempotent and op.role is not None:
        errors |= {409, 422}
    if op.etag and op.method in ("put", "patch"):
        errors |= {412}
    for code in sorted(errors):
        response = {"description": ERROR_DESCRIPTIONS.get(code, "Error"), **error_ref}
        if code == 429:
            response["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again",
                                                   "schema": {"type": "integer"}}, **RATE_HEADERS}
        out["responses"][str(code)] = response
    return out


ERROR_DESCRIPTIONS = {
    400: "The request is malformed or has invalid fields", 401: "No valid bearer token",
    403: "Not allowed for this token's store or role", 404: "Not found (or a module off in this store)",
    409: "A conflict (already in use; the first request with this Idempotency-Key still running)",
    412: "If-Match is not the current ETag: read the resource again", 413: "The body is too large",
    422: "A valid request that cannot be done (more than the balance; a reused key or external_id with a "
         "different request)",
    429: "Too many requests for this token: wait Retry-After seconds", 500: "Something went wrong (logged)",
}


def _path_description(name: str) -> str:
    if name in PARAMETER_DESCRIPTIONS:
        return PARAMETER_DESCRIPTIONS[name]
    if name.endswith("_id"):
        return f"The {name[:-3].replace('_', ' ')}'s id."
    return f"The {name.replace('_', ' ')}."


def _check_operation_ids(doc: dict) -> None:
    seen: dict[str, str] = {}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            if op["operationId"] in seen:
                raise ValueError(f"operationId {op['operationId']} of {where} is also {seen[op['operationId']]}'s: "
                                 "give one of them endpoint(operation_id=...)")
            seen[op["operationId"]] = where


# --- types ----------------------------------------------------------------------------------------

def _money_as_string(converter, field, **kwargs) -> dict:
    """Money goes over the wire as a decimal string ("28.00"): document it so."""
    from marshmallow import fields

    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    return {}


def _json_numbers(value, key: str | None = None):
    """apispec writes a Range's bounds through the field, so a money field's `minimum` comes
    out as the string "0.00", which is not a valid bound: make bounds (and Decimals) numbers."""
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


__all__ = ["API_PREFIX", "example_of", "openapi_document"]
