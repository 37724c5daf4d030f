"""Sales through the API: totals, idempotent external ids, refunds, visits."""

from __future__ import annotations


def sale(external_id="till-3-000123", **extra):
    body = {
        "external_id": external_id,
        "occurred_at": "2026-11-22T10:15:00+08:00",
        "customer": {"phone": "138 0013 8000"},
        "lines": [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00", "discount": "11.20"}],
        "payments": [{"method": "wechat_pay", "amount": "44.80"}],
    }
    body.update(extra)
    return body


def test_sale_is_recorded_with_totals_and_the_same_external_id_returns_it(api, chain):
    r = api.post("/sales", sale(), token=chain.till)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["subtotal"] == "44.80" and body["adjustment_total"] == "0.00" and body["total"] == "44.80"
    assert body["lines"][0]["discount"] == "11.20" and body["lines"][0]["amount"] == "44.80"
    assert body["occurred_at"].startswith("2026-11-22T02:15:00")
    assert body["lines"][0]["quantity"] == 2
    again = api.post("/sales", sale(), token=chain.till)
    assert again.status_code == 200
    assert again.json["id"] == body["id"]
    # the unknown phone created one profile, found again by any spelling of the number
    found = api.get("/customers?phone=%2B86%20138-0013-8000", token=chain.till)
    assert [c["id"] for c in found.json["items"]] == [body["customer_id"]]
    assert found.json["items"][0]["phone"] == "138****8000"


def test_a_repost_the_rules_would_now_refuse_still_answers_the_first_sale(app, api, chain):
    """No SELECT asks whether a receipt is known before the sale is built (issue 23): a re-post
    whose sale the rules now refuse (here: the one unit in stock went with the first post) is
    still the first sale, and a different body under that external_id is still the 422."""
    from tests.conftest import enable

    enable(app, "SH001", "inventory")
    assert api.put("/stores/SH001/plugins/inventory/settings", {"allow_negative_stock": False},
                   token=chain.owner_token).status_code == 200
    assert api.post("/inventory/moves", {"sku": "LATTE-M", "kind": "receipt", "quantity": 2, "reason": "delivery"},
                    token=chain.manager_token).status_code == 201
    first = api.post("/sales", sale(), token=chain.till)
    assert first.status_code == 201, first.json
    again = api.post("/sales", sale(), token=chain.till)
    assert (again.status_code, again.json["id"], again.json["total"]) == (200, first.json["id"], "44.80"), again.json
    other = api.post("/sales", sale(payments=[], lines=[{"sku": "LATTE-M", "quantity": 1}]), token=chain.till)
    assert other.status_code == 422 and other.json["error"]["code"] == "external_id_reused", other.json
    assert set(other.json["error"]["fields"]) == {"lines", "payments"}


def test_an_adjustment_no_enabled_module_computes_is_refused_and_nothing_is_written(api, chain):
    """A till cannot name its own discount (api.md, "The server decides every amount")."""
    body = sale(lines=[{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}],
                adjustments=[{"source": "manual", "code": "promo", "amount": "-11.20"}])
    r = api.post("/sales", body, token=chain.till)
    assert r.status_code == 422, r.json
    assert r.json["error"]["fields"] == {
        "adjustments.0.source": ["manual is not a module enabled in store SH001: it cannot adjust this sale."]}
    assert api.get("/customers?phone=13800138000", token=chain.till).json["items"] == []  # not even the new profile
    r = api.post("/sales", {**body, "adjustments": [{"source": "membership", "code": "birthday", "amount": "-11.20"}]},
                 token=chain.till)
    assert r.status_code == 422 and list(r.json["error"]["fields"]) == ["adjustments.0.source"]  # membership is off here


def test_refund_of_some_lines_and_then_too_much(api, chain):
    r = api.post("/sales", sale(lines=[{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"},
                                       {"sku": "CAKE-CHOC", "quantity": 1, "unit_price": "35.00"}],
                                adjustments=[], payments=[]), token=chain.till)
    sale_id = r.json["id"]
    r = api.post(f"/sales/{sale_id}/refunds", {"reason": "cold", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                 token=chain.till)
    assert r.status_code == 201, r.json
    assert r.json["amount"] == "28.00"
    assert r.json["sale"]["status"] == "partly_refunded"
    r = api.post(f"/sales/{sale_id}/refunds", {"lines": [{"sku": "LATTE-M", "quantity": 2}]}, token=chain.till)
    assert r.status_code == 422
    assert r.json["error"]["fields"]["lines.0.quantity"]
    r = api.post(f"/sales/{sale_id}/refunds", {"reason": "all"}, token=chain.till)
    assert r.status_code == 201
    assert r.json["amount"] == "63.00"
    assert r.json["sale"]["status"] == "refunded"


def test_bad_sale_input_gets_the_one_error_shape(api, chain):
    r = api.post("/sales", sale(lines=[{"sku": "LATTE-M", "quantity": 0}]), token=chain.till)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_error"
    assert "lines.0.quantity" in r.json["error"]["fields"]
    assert api.post("/sales", sale()).status_code == 401
    assert api.post("/sales", {**sale(), "store": "BJ001"}, token=chain.till).status_code == 403
    r = api.post("/sales", sale(lines=[{"sku": "NOPE", "quantity": 1}]), token=chain.till)
    assert r.status_code == 400 and "lines.0.sku" in r.json["error"]["fields"]


def test_visit_is_recorded(api, chain):
    r = api.post("/visits", {"customer": {"phone": "13800138000"}, "purpose": "browse", "staff": "alice"},
                 token=chain.till)
    assert r.status_code == 201, r.json
    assert r.json["customer_id"]


def test_openapi_document_lists_the_core_endpoints(api):
    doc = api.get("/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/sales", "/api/v1/customers", "/api/v1/customers/{customer_id}", "/api/v1/stores/{code}/plugins/{name}"):
        assert path in doc["paths"], path
