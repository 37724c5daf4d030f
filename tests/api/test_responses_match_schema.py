"""Every answer is what the document says it is: a representative run through the API (a till's
day, a manager's and an owner's work, the modules, and every kind of error) captures each
response and validates it against its operation's declared schema, status and headers with
openapi-core. A field answered but undeclared as nullable, a status not in the document, an
error code outside the enum: each fails here."""

from __future__ import annotations

import pytest

from tests.conftest import Api, enable


class Recording(Api):
    """The test client that keeps every answer."""

    def __init__(self, client, seen: list):
        super().__init__(client)
        self.seen = seen

    def call(self, method, path, json=None, token=None, **kwargs):
        response = super().call(method, path, json=json, token=token, **kwargs)
        self.seen.append(response)
        return response


def run_the_day(app, api, chain) -> None:
    enable(app, "SH001", "membership", "feedback", "inventory", "staff_kpi", "campaigns")
    till, manager, owner = chain.till, chain.manager_token, chain.owner_token
    products = api.get("/products?limit=2", token=till).json
    api.get(f"/products?limit=2&cursor={products['next_cursor']}", token=till)
    product_id = products["items"][0]["id"]
    api.get(f"/products/{product_id}", token=till)
    api.post("/products", {"sku": "TEA-L", "name": "红茶 大杯", "price": "18.00"}, token=manager)
    api.patch(f"/products/{product_id}", {"category": "coffee"}, token=manager)
    api.get("/stores", token=till)
    api.get("/plugins", token=till)
    api.get("/stores/SH001/plugins", token=owner)
    for name in ("membership", "feedback", "inventory", "staff_kpi", "campaigns"):
        settings = api.get(f"/stores/SH001/plugins/{name}/settings", token=owner)
        api.put(f"/stores/SH001/plugins/{name}/settings", settings.json, token=owner)

    customer = api.post("/customers", {"name": "王小明", "phone": "13800138000", "gender": "male",
                                       "birthday": "1990-05-17", "tags": ["vip"]}, token=till).json
    cid = customer["id"]
    api.get("/customers?phone=13800138000", token=till)
    api.get("/customers?q=王", token=manager)
    api.get(f"/customers/{cid}", token=till)
    api.get(f"/customers/{cid}", token=manager)
    api.patch(f"/customers/{cid}", {"notes": "likes oat milk"}, token=till)
    api.post(f"/customers/{cid}/consents", {"channel": "sms", "granted": True}, token=till)
    api.post("/customers", {"name": "again", "phone": "13800138000"}, token=manager)  # 409 with existing_id
    api.post(f"/membership/members/{cid}/enrol", {}, token=till)

    quote = api.post("/sales/quote", {"customer": {"id": cid}, "lines": [{"sku": "LATTE-M", "quantity": 2}]},
                     token=till).json
    sale = api.post("/sales", {"external_id": "r-1", "customer": {"id": cid},
                               "lines": [{"sku": "LATTE-M", "quantity": 2}],
                               "payments": [{"method": "cash", "amount": quote["total"]}]}, token=till).json
    api.post("/sales", {"external_id": "r-1", "customer": {"id": cid}, "lines": [{"sku": "LATTE-M", "quantity": 2}],
                        "payments": [{"method": "cash", "amount": quote["total"]}]}, token=till)  # 200
    api.post("/sales", {"external_id": "r-1", "lines": [{"sku": "CAKE-CHOC", "quantity": 1}]}, token=till)  # 422
    api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=till)  # a walk-in
    api.post("/sales/batch", {"sales": [{"external_id": "r-2", "lines": [{"sku": "CAKE-CHOC", "quantity": 1}]},
                                        {"external_id": "r-3", "lines": [{"sku": "NOPE", "quantity": 1}]}]},
             token=till)
    api.get(f"/sales/{sale['id']}", token=till)
    api.post(f"/sales/{sale['id']}/refunds", {"reason": "wrong size", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
             token=till, headers={"Idempotency-Key": "k-1"})
    api.post(f"/sales/{sale['id']}/refunds", {"reason": "wrong size", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
             token=till, headers={"Idempotency-Key": "k-1"})  # replayed
    api.post(f"/sales/{sale['id']}/refunds", {"reason": "again"}, token=till, headers={"Idempotency-Key": "k-1"})
    api.post("/visits", {"customer": {"id": cid}, "purpose": "browse"}, token=till)

    api.get(f"/membership/members/{cid}", token=till)
    api.get(f"/membership/members/{cid}/ledger", token=till)
    api.post(f"/membership/members/{cid}/adjustments", {"points": 50, "reason": "goodwill"}, token=manager)
    api.post(f"/membership/members/{cid}/redemptions", {"points": 10**6, "reason": "too many"}, token=till)  # 422
    api.get("/membership/program", token=owner)  # the chain's, no store named
    api.get("/membership/tiers", token=owner)
    api.get("/membership/member-days", token=till)

    api.get(f"/customers/{cid}/classification", token=manager)
    api.get("/classification/settings?store=SH001", token=manager)
    api.post("/classification/recompute", token=manager)
    api.get(f"/customers/{cid}/export", token=manager)

    # the modules' and the chain's lists, as a manager reads them
    for path in ("/feedback/complaints", "/feedback/feedback", "/inventory/alerts", "/inventory/moves",
                 "/inventory/purchase-orders", "/inventory/reorder-suggestions", "/inventory/stock",
                 "/inventory/suppliers", "/inventory/transfers", "/staff_kpi/leaderboard?month=2026-11",
                 "/staff_kpi/commission?month=2026-11", "/staff_kpi/report?from=2026-11-01",
                 "/analytics/sales", "/analytics/products", "/privacy/requests", "/customers/duplicates"):
        api.get(path + ("&" if "?" in path else "?") + "store=SH001", token=manager)
    api.get("/audit", token=owner)

    # the error shape, each kind
    api.get("/customers", token="wrong")  # 401
    api.get("/customers/2147483000", token=till)  # 404
    api.post("/sales", {"lines": []}, token=till)  # 400
    api.post("/products", {"sku": "X", "name": "x", "price": "1.00"}, token=till)  # 403
    etag = api.get(f"/customers/{cid}", token=till).headers["ETag"]
    api.patch(f"/customers/{cid}", {"notes": "x"}, token=till)
    api.patch(f"/customers/{cid}", {"notes": "y"}, token=till, headers={"If-Match": etag})  # 412

    # a sandbox store: opened, reset; a live one refused (409)
    api.post("/stores", {"code": "TEST01", "name": "测试门店", "sandbox": True}, token=owner)
    api.post("/stores/TEST01/sandbox/reset", token=owner)
    api.post("/stores/SH001/sandbox/reset", token=owner)  # 409


def test_every_answer_of_a_representative_run_matches_the_document(app, chain, backend):
    if backend != "sqlite":
        pytest.skip("what is checked is the document against the answers")
    core = pytest.importorskip("openapi_core")
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

    class Answered(WerkzeugOpenAPIRequest):
        """The request of an answer: its body was read by the app (only the answer is checked)."""

        @property
        def body(self):
            return b""

    seen: list = []
    api = Recording(app.test_client(), seen)
    run_the_day(app, api, chain)
    document = api.get("/openapi.json").json
    openapi = core.OpenAPI.from_dict(document)
    statuses, failures = set(), []
    for response in seen[:-1]:
        request = response.request
        statuses.add(response.status_code)
        try:
            openapi.validate_response(Answered(request), WerkzeugOpenAPIResponse(response))
        except Exception as exc:  # noqa: BLE001 - collected, all reported at once
            detail = getattr(exc, "__cause__", None) or exc
            reasons = [str(e.message) for e in getattr(detail, "schema_errors", ())] or [repr(detail)[:300]]
            failures.append(f"{request.method} {request.full_path} -> {response.status_code}: {reasons}"[:800])
    assert not failures, "\n".join(failures)
    # the run reached what it meant to: successes and every kind of error
    assert {200, 201, 400, 401, 403, 404, 409, 412, 422} <= statuses, statuses
    assert len(seen) > 60
