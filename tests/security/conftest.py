"""Records of store BJ001 that the people and tills of SH001 must never reach."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import Api

BJ_PERSON = {"name": "赵北京", "phone": "13698765432", "email": "zhao.beijing@example.com"}


@pytest.fixture
def bj(app, chain):
    """A BJ001 customer with a sale and a visit, and a BJ001 privacy request."""
    api = Api(app.test_client())
    r = api.post("/customers", {**BJ_PERSON, "address": "北京市朝阳区三里屯路19号"}, token=chain.till_bj)
    assert r.status_code == 201, r.json
    customer_id = r.json["id"]
    r = api.post("/sales", {"external_id": "bj-1", "customer": {"id": customer_id},
                            "lines": [{"sku": "CAKE-CHOC", "quantity": 1}]}, token=chain.till_bj)
    assert r.status_code == 201, r.json
    sale_id = r.json["id"]
    r = api.post("/visits", {"customer": {"id": customer_id}}, token=chain.till_bj)
    assert r.status_code == 201, r.json
    r = api.post("/privacy/requests", {"kind": "access", "customer_id": customer_id}, token=chain.staff_bj_token)
    assert r.status_code == 201, r.json
    return SimpleNamespace(customer_id=customer_id, sale_id=sale_id, request_id=r.json["id"])
