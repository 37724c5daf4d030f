"""The operational contract (docs/api.md): ETag and If-Match on the updates of customers,
products and settings (a stale one is a 412 and nothing is written), and rate limits per
token with the standard headers and a 429 in the one error shape."""

from __future__ import annotations

import pytest

from tests.conftest import Api, build_chain, enable


def test_a_stale_if_match_on_a_customer_is_a_412_and_nothing_changes(api, chain):
    created = api.post("/customers", {"name": "李雷", "phone": "13800138000"}, token=chain.till)
    cid = created.json["id"]
    read = api.get(f"/customers/{cid}", token=chain.till)
    etag = read.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    # a manager sees the phone unmasked, yet the same version: the ETag hides nothing and is shared
    assert api.get(f"/customers/{cid}", token=chain.manager_token).headers["ETag"] == etag
    # someone else changes the profile meanwhile
    changed = api.patch(f"/customers/{cid}", {"notes": "likes oat milk"}, token=chain.staff_token,
                        headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    stale = api.patch(f"/customers/{cid}", {"notes": "overwritten"}, token=chain.till, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["error"]["code"] == "precondition_failed" and "If-Match" in stale.json["error"]["fields"]
    assert api.get(f"/customers/{cid}", token=chain.till).json["notes"] == "likes oat milk"
    # no If-Match: allowed (older tills), last write wins
    plain = api.patch(f"/customers/{cid}", {"notes": "plain"}, token=chain.till)
    assert plain.status_code == 200 and plain.json["notes"] == "plain"


def test_products_and_module_settings_carry_etags_too(app, api, chain):
    product = api.get("/products", token=chain.till).json["items"][0]
    read = api.get(f"/products/{product['id']}", token=chain.till)
    assert read.status_code == 200 and read.json["sku"] == product["sku"]
    etag = read.headers["ETag"]
    ok = api.patch(f"/products/{product['id']}", {"price": "30.00"}, token=chain.owner_token, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json["price"] == "30.00"
    stale = api.patch(f"/products/{product['id']}", {"price": "1.00"}, token=chain.owner_token,
                      headers={"If-Match": etag})
    assert stale.status_code == 412
    assert api.get(f"/products/{product['id']}", token=chain.till).json["price"] == "30.00"

    enable(app, "SH001", "membership")
    path = "/stores/SH001/plugins/membership/settings"
    settings = api.get(path, token=chain.owner_token)
    etag = settings.headers["ETag"]
    put = api.put(path, {**settings.json, "redemption_enabled": False}, token=chain.owner_token,
                  headers={"If-Match": etag})
    assert put.status_code == 200, put.json
    stale = api.put(path, {**settings.json, "member_days_enabled": False}, token=chain.owner_token,
                    headers={"If-Match": etag})
    assert stale.status_code == 412
    now = api.get(path, token=chain.owner_token).json
    assert now["redemption_enabled"] is False and now["member_days_enabled"] is True


@pytest.fixture
def limited(make_app):
    app = make_app(API_RATE_LIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    return app, build_chain(app), Api(app.test_client())


def test_a_token_past_its_limit_gets_a_429_in_the_error_shape_with_the_headers(limited, backend):
    if backend != "sqlite":
        pytest.skip("counting requests does not depend on the database")
    app, chain, api = limited
    answers = [api.get("/products", token=chain.till) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["RateLimit-Limit"] for r in answers] == ["3", "3", "3"]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert 0 <= int(answers[0].headers["RateLimit-Reset"]) <= 60
    assert "Retry-After" not in answers[0].headers
    refused = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    # per token: another till still has its own allowance; the admin is not counted
    assert api.get("/products", token=chain.till_bj).status_code == 200
    assert app.test_client().get("/admin/login").status_code == 200


def test_counters_live_in_redis_when_the_instance_has_one(make_app, redis_server, backend):
    if backend != "sqlite":
        pytest.skip("counting requests does not depend on the database")
    url = redis_server.url
    first = make_app(API_RATE_LIMIT_ENABLED=True, API_RATE_LIMIT="2 per minute", REDIS_URL=url)
    chain = build_chain(first)
    # Two web processes of one instance share the count.
    second = make_app(API_RATE_LIMIT_ENABLED=True, API_RATE_LIMIT="2 per minute", REDIS_URL=url)
    assert Api(first.test_client()).get("/products", token=chain.till).status_code == 200
    assert Api(second.test_client()).get("/products", token=chain.till).status_code == 200
    assert Api(first.test_client()).get("/products", token=chain.till).status_code == 429
