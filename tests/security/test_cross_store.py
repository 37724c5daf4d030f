"""The cross-store matrix: a till, a staff member or a manager of SH001 reaches nothing of
BJ001 through any API route. Routes are read from app.url_map, so a new endpoint is covered
the day it is added; path parameters the matrix does not know fail the test until added."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import Api
from tests.security.conftest import BJ_PERSON

# Record parameters, resolved to the BJ001 record of that kind.
RECORD_PARAMS = {"customer_id": "customer_id", "sale_id": "sale_id", "request_id": "request_id"}
# Parameters naming chain-wide things or a plugin's own records (reached with ?store=BJ001).
OTHER_PARAMS = {"code": "BJ001", "name": None, "product_id": "1"}
# Routes about the whole chain, not about one store's customers: any answer is fine as long as
# it carries no BJ001 personal data.
CHAIN_WIDE = {"api.openapi", "api.catalog.list_products", "api.catalog.list_stores", "api.plugins.list_plugins",
              "api.catalog.create_product", "api.catalog.patch_product", "api.catalog.create_store",
              "api.classification.recompute"}  # recomputes every scope; answers counts only
# Valid bodies, so the answer is about access and not about a missing field.
BODIES = {
    ("POST", "api.customers.create_customer"): {"name": "x", "store": "BJ001"},
    ("PATCH", "api.customers.patch_customer"): {"name": "hijacked"},
    ("POST", "api.customers.change_consent"): {"channel": "sms", "granted": True},
    ("POST", "api.sales.create_sale"): {"store": "BJ001", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
    ("POST", "api.sales.quote"): {"store": "BJ001", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
    ("POST", "api.sales.create_sales_batch"): {"store": "BJ001", "sales": [{"lines": [{"sku": "LATTE-M", "quantity": 1}]}]},
    ("POST", "api.sales.create_visit"): {"store": "BJ001"},
    ("POST", "api.sales.refund"): {"reason": "x"},
    ("POST", "api.privacy.open_request"): {"kind": "delete", "store": "BJ001"},
    ("PATCH", "api.privacy.close_request"): {"status": "done"},
    ("PUT", "api.privacy.write_retention"): {"store": "BJ001", "retention_days": 365},
    ("PUT", "api.plugins.toggle_module"): {"enabled": False},
    # merge SH001's own customer into BJ001's: neither direction may work
    ("POST", "api.customers.merge_customer"): lambda sh_customer_id: {"merge_id": sh_customer_id},
}
WATCHED_TABLES = ("customer", "consent", "sale", "refund", "visit", "privacy_request", "store_plugin",
                  "store_privacy", "customer_tag")


def _watched(app):
    from core.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {t: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all()), key=repr)
                for t in WATCHED_TABLES if t in present}


def _routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_nothing_of_store_bj001_is_reachable_from_sh001(app, chain, bj):
    api = Api(app.test_client())
    plugin = next(iter(app.extensions["storecrm.plugins"].manifests), "none")
    sh_customer_id = api.post("/customers", {"name": "孙上海", "phone": "13598761111"}, token=chain.till).json["id"]
    before = _watched(app)
    unknown, leaks = set(), []
    for rule, method in _routes(app):
        params, strict = {}, False
        for name in rule.arguments:
            if name in RECORD_PARAMS:
                params[name] = getattr(bj, RECORD_PARAMS[name])
                strict = True
            elif name in OTHER_PARAMS:
                params[name] = OTHER_PARAMS[name] or plugin
            elif name.endswith("_id"):
                params[name] = 1  # a plugin's record: the ?store=BJ001 below is what must be refused
            else:
                unknown.add(f"{rule.rule}: <{name}>")
        if any(f"<{n}>" in u for u in unknown for n in rule.arguments):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(params[m.group(1)]), rule.rule)[len("/api/v1"):]
        body = BODIES.get((method, rule.endpoint))
        if callable(body):
            body = body(sh_customer_id)
        strict = strict or body is not None
        for who in ("till", "staff_token", "manager_token"):
            r = api.call(method, path + "?store=BJ001", json=body if body is not None else {"store": "BJ001"},
                         token=getattr(chain, who))
            text = r.get_data(as_text=True)
            leaked = [v for v in (BJ_PERSON["name"], BJ_PERSON["phone"], BJ_PERSON["email"], "3698765432", "5432")
                      if v in text]
            where = f"{who} {method} {rule.rule} -> {r.status_code}"
            if rule.endpoint in CHAIN_WIDE or (method == "GET" and not strict):
                # chain-wide, or a list that shows only what the caller may see: no BJ001 data in it
                if r.status_code >= 500 or leaked:
                    leaks.append(f"{where} {leaked}")
            elif strict and r.status_code not in (403, 404):
                leaks.append(f"{where}: expected 403 or 404, got {text[:200]}")
            elif r.status_code < 400 or r.status_code >= 500 or leaked:
                leaks.append(f"{where} {leaked} {text[:200]}")
    assert not unknown, f"add these path parameters to the cross-store matrix: {sorted(unknown)}"
    assert leaks == [], "\n".join(leaks)
    assert _watched(app) == before, "a refused request changed store BJ001's records"


def test_the_matrix_would_see_a_leak(app, chain, bj):
    """The same calls from BJ001's own manager-level owner succeed: the matrix tests access, not typos."""
    api = Api(app.test_client())
    assert api.get(f"/customers/{bj.customer_id}", token=chain.owner_token).json["name"] == BJ_PERSON["name"]
    assert api.get(f"/sales/{bj.sale_id}", token=chain.till_bj).status_code == 200
    assert api.get(f"/customers/{bj.customer_id}/export", token=chain.owner_token).status_code == 200


def test_a_merge_cannot_pull_another_stores_customer_in(app, chain, bj):
    api = Api(app.test_client())
    mine = api.post("/customers", {"name": "孙上海", "phone": "13598761111"}, token=chain.till).json["id"]
    r = api.post(f"/customers/{mine}/merge", {"merge_id": bj.customer_id}, token=chain.manager_token)
    assert r.status_code == 404
    assert api.get(f"/customers/{bj.customer_id}", token=chain.owner_token).json["name"] == BJ_PERSON["name"]


@pytest.mark.parametrize("who, status", [("till", 403), ("staff_token", 403), ("manager_token", 200),
                                         ("owner_token", 200)])
def test_roles_on_personal_data(app, chain, who, status):
    api = Api(app.test_client())
    r = api.post("/customers", {"name": "周", "phone": "13511112222", "email": "zhou@example.com", "store": "SH001"},
                 token=chain.manager_token)
    customer_id = r.json["id"]
    seen = api.get(f"/customers/{customer_id}", token=getattr(chain, who)).json
    if status == 200:
        assert seen["phone"] == "+8613511112222" and seen["email"] == "zhou@example.com"
    else:
        assert seen["phone"] == "135****2222" and seen["email"] == "z***@example.com"
        listed = api.get("/customers?reveal=true&phone=13511112222", token=getattr(chain, who)).json["items"]
        assert listed[0]["phone"] == "135****2222"
    assert api.get(f"/customers/{customer_id}/export", token=getattr(chain, who)).status_code == status
