"""/api/v1/openapi.json is a valid OpenAPI 3 document generated from the routes themselves."""

from __future__ import annotations

import re

import pytest

from core.api.http import API_PREFIX, openapi_path

UNDOCUMENTED = {"/api/v1/openapi.json"}


def api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.rule in UNDOCUMENTED:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((openapi_path(rule.rule), method.lower()))
    return routes


def test_document_is_valid_openapi(api):
    validator = pytest.importorskip("openapi_spec_validator")
    doc = api.get("/openapi.json").json
    validator.validate(doc)
    assert doc["components"]["schemas"]["Error"]["properties"]["error"]["required"] == ["code", "message"]


def test_every_api_route_is_documented_and_every_documented_path_exists(app, api):
    doc = api.get("/openapi.json").json
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops if method != "parameters"}
    routes = api_routes(app)
    assert routes - documented == set(), "routes missing from the OpenAPI document (declare them with core.api.endpoint)"
    assert documented - routes == set(), "documented operations that no route serves"
    core = {("/api/v1/customers", "post"), ("/api/v1/customers", "get"), ("/api/v1/customers/{customer_id}", "get"),
            ("/api/v1/customers/{customer_id}", "patch"), ("/api/v1/customers/{customer_id}/consents", "post"),
            ("/api/v1/products", "post"), ("/api/v1/products", "get"), ("/api/v1/products/{product_id}", "patch"),
            ("/api/v1/sales/quote", "post"), ("/api/v1/sales", "post"), ("/api/v1/sales/batch", "post"),
            ("/api/v1/sales/{sale_id}", "get"), ("/api/v1/sales/{sale_id}/refunds", "post"), ("/api/v1/visits", "post"),
            ("/api/v1/stores", "get"), ("/api/v1/stores", "post"), ("/api/v1/plugins", "get"),
            ("/api/v1/stores/{code}/plugins", "get"), ("/api/v1/stores/{code}/plugins/{name}", "put"),
            ("/api/v1/stores/{code}/plugins/{name}/settings", "get"), ("/api/v1/stores/{code}/plugins/{name}/settings", "put")}
    assert core - documented == set()


def test_documented_schemas_describe_bodies_errors_and_auth(api):
    doc = api.get("/openapi.json").json
    sale = doc["paths"]["/api/v1/sales"]["post"]
    assert {"200", "201", "400", "401", "403", "422"} <= set(sale["responses"])
    assert sale["security"] == [{"bearer": []}]
    body_ref = sale["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert {"lines", "external_id", "customer", "payments"} <= set(body["properties"])
    assert "lines" in body["required"]
    listing = doc["paths"]["/api/v1/customers"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"phone", "q", "limit", "cursor"}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(page["properties"]) == {"items", "next_cursor"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            for status, response in op["responses"].items():
                if re.match(r"[45]\d\d", status):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
