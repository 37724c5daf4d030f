"""No request body, query or header answers a 5xx (issue 20): the four families of inputs
that used to (strings that are not Unicode, JSON nested very deep, integers beyond 64 bits
in ids and cursors, times whose UTC value no database holds) and arbitrary JSON, thrown at
every operation of the OpenAPI document. Each answer is a 4xx in the one error shape and no
table gains or loses a row."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import BUNDLED, enable

# Tables a refused request may still touch: the audit trail and the token's last use.
UNCOUNTED = {"audit_log", "api_token", "user_session", "alembic_version"}
BIG = 2**70
HUGE_CURSOR = base64.urlsafe_b64encode(json.dumps({"after": BIG}).encode()).decode().rstrip("=")
FAMILIES = {
    "not utf-8": b'{"name": "\xff\xfe\xfd", "store": "SH001", "lines": [{"sku": "LATTE-M", "quantity": 1}]}',
    "lone surrogate": b'{"name": "\\ud800", "store": "SH001", "lines": [{"sku": "\\udc00", "quantity": 1}]}',
    "deep json": b"[" * 50_000 + b"]" * 50_000,
    "deep object": b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    "big integers": json.dumps({"store": "SH001", "customer": {"id": BIG}, "customer_id": BIG, "merge_id": BIG,
                                "sale_id": BIG, "points": BIG, "retention_days": BIG, "enabled": True,
                                "lines": [{"sku": "LATTE-M", "quantity": BIG}]}).encode(),
    "far times": json.dumps({"store": "SH001", "occurred_at": "9999-12-31T23:59:59-12:00",
                             "since": "0001-01-01T00:00:00+14:00",
                             "lines": [{"sku": "LATTE-M", "quantity": 1}]}).encode(),
}
QUERIES = [f"cursor={HUGE_CURSOR}", f"limit={BIG}", "since=9999-12-31T23:59:59-12:00",
           "until=0001-01-01T00:00:00%2B14:00", "from=0001-01-01&to=9999-12-31", "store=%ff%fe",
           "q=%ed%a0%80", f"customer_id={BIG}", "phone=%EF%BC%91abc"]


def operations(app, with_body: bool = False) -> list[tuple[str, str]]:
    """(rule, method) of every API operation; `with_body`: only those that read a JSON body."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.endswith("openapi.json"):
            continue
        op = getattr(app.view_functions[rule.endpoint], "storecrm_operation", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            reads_body = (op is not None and op.body is not None) or method in ("PUT", "PATCH")
            if not with_body or reads_body:
                found.add((rule.rule, method))
    return sorted(found)


def concrete(rule: str, value: str = "1") -> str:
    return re.sub(r"<[^>]+>", value, rule)


def row_counts(app) -> dict[str, int]:
    from core.extensions import db

    with app.app_context():
        counts = {name: db.session.scalar(select(func.count()).select_from(table))
                  for name, table in db.metadata.tables.items() if name not in UNCOUNTED}
        db.session.rollback()
        return counts


def assert_4xx_shape(response, what):
    assert 400 <= response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and set(body["error"]) >= {"code", "message"}, (what, response.get_data()[:200])


@pytest.fixture
def target(app, chain):
    enable(app, "SH001", *BUNDLED)
    return app, chain


def test_the_four_families_answer_a_4xx_at_every_operation_and_write_nothing(target):
    app, chain = target
    client = app.test_client()
    headers = {"Authorization": f"Bearer {chain.owner_token}", "Content-Type": "application/json"}
    before = row_counts(app)
    ops = operations(app)
    with_body = set(operations(app, with_body=True))
    assert len(ops) > 30 and len(with_body) > 15
    for rule, method in ops:
        # An id beyond 64 bits in the path: one request per operation is enough.
        if "<" in rule:
            response = client.open(concrete(rule, str(BIG)), method=method, data=FAMILIES["big integers"],
                                   headers=headers)
            assert_4xx_shape(response, (method, rule, "big id in the path"))
        for path in (concrete(rule),):
            if (rule, method) in with_body:
                for family, body in FAMILIES.items():
                    response = client.open(path, method=method, data=body, headers=headers)
                    assert_4xx_shape(response, (method, path, family))
            for query in QUERIES if method == "GET" else ():
                response = client.open(f"{path}?{query}", method=method, headers=headers)
                assert response.status_code < 500, (method, path, query, response.get_data(as_text=True)[:300])
    assert row_counts(app) == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["9999-12-31T23:59:59-12:00", "2026-11-22T10:15:00+08:00", "1.005", "-0.001", "LATTE-M",
                       "\u200b\u200b", "13800abcdef", "SH001", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["store", "lines", "sku", "quantity", "unit_price", "customer", "id", "phone", "name",
                         "occurred_at", "payments", "amount", "data", "enabled", "sales", "code", "price"])
        | st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)


def test_arbitrary_json_at_every_operation_never_answers_a_5xx(target):
    app, chain = target
    client = app.test_client()
    headers = {"Authorization": f"Bearer {chain.owner_token}"}
    ops = operations(app, with_body=True)

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op=st.sampled_from(ops), body=JSON_VALUES)
    def throw(op, body):
        rule, method = op
        response = client.open(concrete(rule), method=method, json=body, headers=headers)
        assert response.status_code < 500, (method, rule, body, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert "error" in response.get_json()

    throw()
