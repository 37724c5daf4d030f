"""/api/v1/openapi.json is a valid OpenAPI 3 document generated from the routes themselves."""

from __future__ import annotations

import re

import pytest

from core.api.http import API_PREFIX, openapi_path

# The document is built from the routes, not from the database: one backend.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

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
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    if "$ref" in error:  # the details are a component of their own (a batch's results use it too)
        error = doc["components"]["schemas"][error["$ref"].rsplit("/", 1)[1]]
    assert error["required"] == ["code", "message"]


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


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_operation_has_a_readable_unique_id_an_example_and_described_parameters(api):
    doc = api.get("/openapi.json").json
    assert doc["servers"] and doc["servers"][0]["url"].startswith("http")
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
    by_id = {op["operationId"]: (path, method) for path, method, op in _operations(doc)}
    assert by_id["createRefund"] == ("/api/v1/sales/{sale_id}/refunds", "post")
    assert by_id["listCustomers"] == ("/api/v1/customers", "get")
    assert by_id["createSale"] == ("/api/v1/sales", "post")
    for path, method, op in _operations(doc):
        where = f"{method.upper()} {path}"
        for param in op.get("parameters", []):
            if "$ref" not in param:
                assert param.get("description"), f"{where}: parameter {param['name']} has no description"
        if "requestBody" in op:
            assert "example" in op["requestBody"]["content"]["application/json"], f"{where}: no request example"
        ok = [r for s, r in op["responses"].items() if s.startswith("2")]
        assert any("example" in r.get("content", {}).get("application/json", {}) for r in ok), f"{where}: no example"
    cursor = next(p for p in doc["paths"]["/api/v1/customers"]["get"]["parameters"] if p.get("name") == "cursor")
    assert "next_cursor" in cursor["description"]


def test_output_schemas_are_required_nullable_refs_are_3_0_and_closed_sets_are_enums(api):
    doc = api.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    sale = schemas["SaleOut"]
    assert {"id", "status", "total", "lines", "customer_id"} <= set(sale["required"])
    # each closed set is one named enum, referenced where it is used
    assert sale["properties"]["status"] == {"$ref": "#/components/schemas/SaleStatus"}
    assert schemas["SaleStatus"]["enum"] == ["completed", "partly_refunded", "refunded"]
    assert sale["properties"]["total"]["format"] == "decimal" and sale["properties"]["total"]["type"] == "string"
    assert schemas["PaymentOut"]["properties"]["method"] == schemas["PaymentIn"]["properties"]["method"] == {
        "$ref": "#/components/schemas/PaymentMethod"}
    assert "cash" in schemas["PaymentMethod"]["enum"]
    assert schemas["ConsentChannel"]["enum"] == ["sms", "email", "wechat", "phone_call"]
    assert schemas["CustomerOut"]["properties"]["gender"] == {"allOf": [{"$ref": "#/components/schemas/CustomerGender"}],
                                                              "nullable": True}
    # a customer answered by GET has no `linked` (only lookups do): not required
    assert "linked" not in schemas["CustomerOut"]["required"] and "name" in schemas["CustomerOut"]["required"]
    # nullable references: allOf + nullable, never an anonymous anyOf
    tier = schemas["MemberOut"]["properties"]["tier"]
    assert tier == {"allOf": [{"$ref": "#/components/schemas/TierBrief"}], "nullable": True}
    assert "anyOf" not in str(schemas)
    # error codes are an enum; the details the API adds are declared
    detail = schemas["ErrorDetail"]
    assert detail["properties"]["code"]["allOf"] == [{"$ref": "#/components/schemas/ErrorCode"}]
    assert {"validation_error", "not_found", "idempotency_key_reused", "external_id_reused",
            "idempotency_in_progress", "precondition_failed", "too_many_requests"} <= set(schemas["ErrorCode"]["enum"])
    assert detail["properties"]["existing_id"]["type"] == "integer"
    # the batch: typed items and answers
    batch = doc["paths"]["/api/v1/sales/batch"]["post"]
    body = schemas[batch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["sales"]["items"] == {"$ref": "#/components/schemas/SaleIn"}
    answer = batch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    result = schemas[schemas[answer]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert result["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(result["required"]) == {"index", "status"}


def test_settings_bodies_headers_and_the_once_undocumented_answers(api):
    doc = api.get("/openapi.json").json
    paths = doc["paths"]
    module_settings = paths["/api/v1/stores/{code}/plugins/{name}/settings"]
    refs = [s["$ref"] for s in module_settings["put"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]]
    assert "#/components/schemas/MembershipSettings" in refs and len(refs) == 5
    assert {"412", "429"} <= set(module_settings["put"]["responses"])
    assert "ETag" in module_settings["get"]["responses"]["200"]["headers"]
    classification = paths["/api/v1/classification/settings"]["put"]
    assert classification["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Settings")
    recompute = paths["/api/v1/classification/recompute"]["post"]["responses"]
    assert "queued" in doc["components"]["schemas"]["RecomputeOut"]["properties"] and "202" in recompute
    export = paths["/api/v1/customers/{customer_id}/export"]["get"]["responses"]["200"]
    assert "plugins" in export["content"]["application/json"]["schema"]["properties"]
    refund = paths["/api/v1/sales/{sale_id}/refunds"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in refund["parameters"]
    assert "RateLimit-Remaining" in refund["responses"]["201"]["headers"]
    assert "Retry-After" in refund["responses"]["429"]["headers"]
    patch = paths["/api/v1/customers/{customer_id}"]["patch"]
    assert {"$ref": "#/components/parameters/IfMatch"} in patch["parameters"] and "412" in patch["responses"]
    # money is a string on the way in too, and a JSON number is refused (doc and behaviour agree)
    line = doc["components"]["schemas"]["SaleLineIn"]["properties"]["unit_price"]
    assert line["type"] == "string" and line["format"] == "decimal"
    program = doc["components"]["schemas"]["Program"]["properties"]["last_review_on"]
    assert program["nullable"] is True


def test_money_sent_as_a_json_number_is_refused_naming_the_field(api, chain):
    r = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": 28.0}]}, token=chain.till)
    assert r.status_code == 400
    assert r.json["error"]["fields"] == {"lines.0.unit_price": ['Send money as a decimal string, e.g. "28.00".']}
