"""Retrying a create is safe (docs/api.md, "Retrying safely"): an `Idempotency-Key` answers the
first answer again to the same request, refuses a different one naming what differs, and a
sale's `external_id` re-posted with another sale is refused the same way. Built once in
`core.api.http.endpoint`, so a module's creates (membership's adjustments) have it too."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer, IdempotencyKey, Refund, Sale, Visit
from tests.api.test_concurrent_sales import live_server  # noqa: F401 - a fixture
from tests.conftest import enable

LATTE = {"sku": "LATTE-M", "quantity": 2}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def sale(api, chain, external_id="till-1-0001", lines=(LATTE,)):
    r = api.post("/sales", {"external_id": external_id, "lines": list(lines)}, token=chain.till)
    assert r.status_code == 201, r.json
    return r.json


def keyed(key: str) -> dict:
    return {"headers": {"Idempotency-Key": key}}


def test_a_refund_retried_with_its_key_refunds_once_and_answers_the_first_answer(app, api, chain):
    sold = sale(api, chain)
    body = {"reason": "wrong size", "lines": [{"sku": "LATTE-M", "quantity": 1}]}
    first = api.post(f"/sales/{sold['id']}/refunds", body, token=chain.till, **keyed("refund-7f3a"))
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    # the till timed out and sends it again, keys in another order and the quantity spelt 1.0
    again = api.post(f"/sales/{sold['id']}/refunds", {"lines": [{"quantity": 1.0, "sku": "LATTE-M"}],
                                                      "reason": "wrong size"},
                     token=chain.till, **keyed("refund-7f3a"))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert count(app, Refund) == 1
    assert api.get(f"/sales/{sold['id']}", token=chain.till).json["refunded_total"] == "28.00"
    # the same key from another token is that token's own key: a refund of its own
    other = api.post(f"/sales/{sold['id']}/refunds", body, token=chain.manager_token, **keyed("refund-7f3a"))
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert count(app, Refund) == 2


def test_the_same_key_with_a_different_request_is_a_422_naming_the_fields(app, api, chain):
    first = api.post("/customers", {"name": "王小明", "phone": "13800138000"}, token=chain.till, **keyed("c-1"))
    assert first.status_code == 201
    changed = api.post("/customers", {"name": "王小明", "phone": "13900139000", "email": "w@example.com"},
                       token=chain.till, **keyed("c-1"))
    assert changed.status_code == 422
    assert changed.json["error"]["code"] == "idempotency_key_reused"
    assert set(changed.json["error"]["fields"]) == {"phone", "email"}
    # the key used for another operation: named as such
    elsewhere = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("c-1"))
    assert elsewhere.status_code == 422
    assert "Idempotency-Key" in elsewhere.json["error"]["fields"]
    assert count(app, Customer) == 1 and count(app, Visit) == 0


def test_a_failed_first_request_frees_its_key_for_the_fixed_request(app, api, chain):
    bad = api.post("/visits", {"purpose": "browse", "customer": {"id": 999999}}, token=chain.till, **keyed("v-1"))
    assert bad.status_code == 404
    fixed = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("v-1"))
    assert fixed.status_code == 201, fixed.json
    replay = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("v-1"))
    assert replay.status_code == 201 and replay.json["id"] == fixed.json["id"]
    assert count(app, Visit) == 1
    assert count(app, IdempotencyKey) == 1


def test_a_repeat_while_the_first_runs_is_a_409_and_a_bad_key_a_400(app, api, chain):
    from core.models import ApiToken

    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "till"))
        # The first request claimed the key and has not answered yet.
        db.session.add(IdempotencyKey(token_id=token_id, key="busy", operation="POST /api/v1/visits",
                                      request_hash="x" * 64, fingerprint={}))
        db.session.commit()
    r = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("busy"))
    assert r.status_code == 422  # another request's claim: a different request
    with app.app_context():
        row = db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "busy")).one()
        from core.services.fingerprint import digest, fingerprint

        sent = {**fingerprint({"purpose": "browse"}), "_operation": digest("POST /api/v1/visits")[:16]}
        row.fingerprint, row.request_hash = sent, digest(sent)
        db.session.commit()
    r = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("busy"))
    assert r.status_code == 409 and r.json["error"]["code"] == "idempotency_in_progress"
    r = api.post("/visits", {"purpose": "browse"}, token=chain.till, **keyed("has spaces"))
    assert r.status_code == 400 and "Idempotency-Key" in r.json["error"]["fields"]
    assert count(app, Visit) == 0


def test_a_module_create_gets_it_through_the_decorator(app, api, chain):
    enable(app, "SH001", "membership")
    customer = api.post("/customers", {"name": "会员", "phone": "13700137000"}, token=chain.till).json["id"]
    assert api.post(f"/membership/members/{customer}/enrol", {}, token=chain.till).status_code == 200
    body = {"points": 100, "reason": "goodwill"}
    first = api.post(f"/membership/members/{customer}/adjustments", body, token=chain.manager_token,
                     **keyed("adj-1"))
    again = api.post(f"/membership/members/{customer}/adjustments", body, token=chain.manager_token,
                     **keyed("adj-1"))
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/membership/members/{customer}", token=chain.till).json["points_balance"] == 100


def test_an_external_id_reposted_with_another_sale_is_a_422_and_the_same_sale_the_first(app, api, chain):
    first = sale(api, chain, "till-9-42")
    same = api.post("/sales", {"lines": [{"quantity": "2.000", "sku": "LATTE-M"}], "external_id": "till-9-42"},
                    token=chain.till)
    assert same.status_code == 200 and same.json["id"] == first["id"]
    other = api.post("/sales", {"external_id": "till-9-42", "lines": [{"sku": "CAKE-CHOC", "quantity": 1}],
                                "staff": "alice"}, token=chain.till)
    assert other.status_code == 422
    assert other.json["error"]["code"] == "external_id_reused"
    assert set(other.json["error"]["fields"]) == {"lines", "staff"}
    assert count(app, Sale) == 1


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("concurrency is PostgreSQL's to show (SQLite serialises writers)")


def _post(url, token, body, key):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_the_same_refund_from_threads_at_once_refunds_once(app, api, chain, postgres_only, live_server):
    sold = sale(api, chain)
    url = f"{live_server}/api/v1/sales/{sold['id']}/refunds"
    barrier, answers = threading.Barrier(6), []

    def send():
        barrier.wait()
        answers.append(_post(url, chain.till, {"reason": "x"}, "same-refund"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in answers)
    # one did it; each other one got its answer again or was told it was still running
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, answers
    assert len({body["id"] for status, body in answers if status == 201}) == 1
    assert count(app, Refund) == 1
