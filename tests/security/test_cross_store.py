"""The cross-store matrix: a till, a staff member or a manager of SH001 reaches nothing of
BJ001 through any route — API and admin, core and plugins. Routes are read from
app.url_map, and ids from each operation's body and query schemas, so a new endpoint is
covered the day it is added: an id the matrix cannot classify fails the test until it is
registered in tests/security/scoping_records.py (one line, see its docstring)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from marshmallow import fields as mfields

from tests.conftest import BUNDLED, Api, enable
from tests.security import scoping_records as reg
from tests.security.conftest import BJ_PERSON

# Routes about the whole chain, not about one store's customers: any answer is fine as long as
# it carries no BJ001 personal data.
CHAIN_WIDE = {"api.openapi", "api.catalog.list_products", "api.catalog.list_stores", "api.plugins.list_plugins",
              "api.catalog.create_product", "api.catalog.patch_product", "api.catalog.get_product", "api.catalog.create_store",
              "api.classification.recompute"}  # recomputes every scope; answers counts only
# Query-string ids that only filter a list of what the caller may see (never a capability).
LIST_FILTERS: dict[tuple[str, str], set[str]] = {}
# Valid bodies for routes that name no record, so the answer is about access, not a missing field.
PLAIN_BODIES = {
    ("POST", "api.customers.create_customer"): {"name": "x", "store": "BJ001"},
    ("PATCH", "api.customers.patch_customer"): {"name": "hijacked"},
    ("POST", "api.customers.change_consent"): {"channel": "sms", "granted": True},
    ("POST", "api.sales.refund"): {"reason": "x"},
    ("PATCH", "api.privacy.close_request"): {"status": "done"},
    ("PUT", "api.privacy.write_retention"): {"store": "BJ001", "retention_days": 365},
    ("PUT", "api.plugins.toggle_module"): {"enabled": False},
}
# Tables a refused request must leave as they were (the log tables note every request).
UNWATCHED = {"alembic_version", "api_token", "user_account", "audit_log", "job_outbox", "job_lock"}
LEAKS = (BJ_PERSON["name"], BJ_PERSON["phone"], BJ_PERSON["email"], "3698765432", "136****5432")


def _watched(app):
    from core.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        # classification_*: the chain-wide recompute (CHAIN_WIDE) rewrites them, counts only
        tables = [t for t in sa.inspect(conn).get_table_names()
                  if t not in UNWATCHED and not t.startswith("classification_")]
        return {t: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all())) for t in tables}


def id_fields(schema, prefix=""):
    """Names of the integer id fields a body or query schema takes (`customer.id`, `merge_id`...)."""
    if schema is None:
        return set()
    found = set()
    for name, field in (schema._declared_fields if isinstance(schema, type) else schema.fields).items():
        if field.load_only is False and field.dump_only:
            continue
        if isinstance(field, mfields.Nested):
            found |= id_fields(field.nested if isinstance(field.nested, type) else type(field.schema), f"{prefix}{name}.")
        elif isinstance(field, mfields.List) and isinstance(field.inner, mfields.Nested):
            found |= id_fields(field.inner.nested, f"{prefix}{name}.")
        elif isinstance(field, mfields.Integer) and (name == "id" or name.endswith("_id")):
            found.add(prefix + name)
    return found


def _sample(field):
    from marshmallow import validate

    for v in field.validators:
        if isinstance(v, validate.OneOf):
            return list(v.choices)[0]
    if isinstance(field, mfields.Nested):
        return sample_body(field.nested if isinstance(field.nested, type) else type(field.schema))
    if isinstance(field, mfields.Boolean):
        return True
    if isinstance(field, (mfields.Integer, mfields.Decimal, mfields.Float)):
        return 1
    if isinstance(field, mfields.Email):
        return "matrix@example.com"
    if isinstance(field, mfields.List):
        return [_sample(field.inner)]
    if isinstance(field, mfields.Dict):
        return {}
    return "matrix"


def sample_body(schema):
    """A body with every required field filled, so a route answers about access, not input."""
    if schema is None:
        return None
    return {(f.data_key or name): _sample(f) for name, f in schema._declared_fields.items() if f.required}


def _params(rule, env, unknown):
    """Path parameters → values; True when one names a BJ001 record."""
    values, strict = {}, False
    for name in sorted(rule.arguments):
        if name in reg.RECORD_PARAMS:
            values[name] = env.value(reg.RECORD_PARAMS, name)
            strict = True
        elif name in reg.CHAIN_PARAMS:
            values[name] = env.value(reg.CHAIN_PARAMS, name)
        else:
            unknown.add(f"{rule.rule}: path <{name}> ({rule.endpoint})")
            return None, False
    return values, strict


def _path(rule, values):
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _refused(r) -> bool:
    """403 or 404, or a batch whose every item is (one result per sale)."""
    if r.status_code in (403, 404):
        return True
    results = (r.get_json(silent=True) or {}).get("results") if r.status_code == 200 else None
    return bool(results) and all(x.get("status") in (403, 404) for x in results)


def _rules(app, prefix):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.rule.startswith(prefix):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


@pytest.fixture
def env(app, chain, bj):
    reg.load_plugin_registrations()
    for code in ("SH001", "BJ001"):
        enable(app, code, *BUNDLED)
    api = Api(app.test_client())
    sh_customer_id = api.post("/customers", {"name": "孙上海", "phone": "13598761111"}, token=chain.till).json["id"]
    return reg.Env(app=app, api=api, chain=chain, bj=bj, sh_customer_id=sh_customer_id)


def test_nothing_of_store_bj001_is_reachable_from_sh001_through_the_api(env):
    app, api, chain = env.app, env.api, env.chain
    unknown, leaks, controls = set(), [], []
    plan = []
    for rule, method in _rules(app, "/api/"):
        values, strict = _params(rule, env, unknown)
        if values is None:
            continue
        op = getattr(app.view_functions[rule.endpoint], "storecrm_operation", None)
        named = reg.BODIES.get((method, rule.endpoint))
        ids = id_fields(op and op.body) | (id_fields(op and op.query) - LIST_FILTERS.get((method, rule.endpoint), set()))
        if ids and named is None:
            unknown.add(f"{method} {rule.rule}: body/query ids {sorted(ids)} ({rule.endpoint})")
            continue
        if named is not None:
            if "customer_id" in rule.arguments:
                values["customer_id"] = env.sh_customer_id  # the caller's own; the body names BJ001's
            body, query = named(env), ""
            if method == "GET":  # a GET takes its ids in the query string
                body, query = None, "?" + urlencode(body)
            strict = True
        elif strict:
            # A BJ001 record in the path, the caller acting in its own store: only the rule can refuse.
            body = dict(PLAIN_BODIES.get((method, rule.endpoint)) or sample_body(op and op.body) or {})
            if op is not None and op.body is not None and "store" in op.body._declared_fields:
                body["store"] = "SH001"
            query = "?store=SH001" if op is not None and op.query is not None and "store" in op.query._declared_fields else ""
        else:
            body, query = PLAIN_BODIES.get((method, rule.endpoint), {"store": "BJ001"}), "?store=BJ001"
        plan.append((rule, method, _path(rule, values)[len("/api/v1"):] + query, body, strict))
    assert not unknown, "classify these ids in tests/security/scoping_records.py:\n" + "\n".join(sorted(unknown))
    # Chain-wide routes first: the classification recompute may bring derived rows (customer_class)
    # up to date; every request after them is watched.
    plan.sort(key=lambda entry: entry[0].endpoint not in CHAIN_WIDE)
    before = None
    for rule, method, path, body, strict in plan:
        if before is None and rule.endpoint not in CHAIN_WIDE:
            before = _watched(app)
        for who in ("till", "staff_token", "manager_token"):
            r = api.call(method, path, json=body, token=getattr(chain, who))
            text = r.get_data(as_text=True)
            leaked = [v for v in LEAKS if v in text]
            where = f"{who} {method} {path} -> {r.status_code}"
            if rule.endpoint in CHAIN_WIDE or (method == "GET" and not strict):
                # chain-wide, or a list that shows only what the caller may see: no BJ001 data in it
                if r.status_code >= 500 or leaked:
                    leaks.append(f"{where} {leaked}")
            elif strict:
                if not _refused(r) or leaked:
                    leaks.append(f"{where}: expected 403 or 404, got {text[:200]}")
            elif r.status_code < 400 or r.status_code >= 500 or leaked:
                leaks.append(f"{where} {leaked} {text[:200]}")
        if strict and method == "GET":
            # the owner reads the record where it lives (a store-scoped route: in BJ001)
            control = path.replace("store=SH001", "store=BJ001")
            if rule.endpoint.startswith("api_") and "store=" not in control:  # a plugin route takes ?store=
                control += ("&" if "?" in control else "?") + "store=BJ001"
            controls.append((control, api.call("GET", control, token=chain.owner_token)))
    assert leaks == [], "\n".join(leaks)
    assert _watched(app) == before, "a refused request changed records"
    # the records the matrix named exist and are readable by their owner: 404 above was the rule
    assert [(p, r.status_code) for p, r in controls if r.status_code != 200] == []


def _admin_views(app):
    """Flask-Admin model views by endpoint: (model name, details?, edit?)."""
    from flask_admin.contrib.sqla import ModelView

    admin = app.extensions["admin"][0]
    return {v.endpoint: v for v in admin._views if isinstance(v, ModelView)}


# The admin reads through the same SQL rule the API matrix runs on both backends: one is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_nothing_of_store_bj001_is_reachable_from_sh001_in_the_admin(env):
    from tests.admin.conftest import login

    app = env.app
    views = _admin_views(app)
    unknown, leaks, plan = set(), [], []
    for rule, method in _rules(app, "/admin/"):
        view_endpoint, _, action = rule.endpoint.rpartition(".")
        values, strict = _params(rule, env, unknown)
        if values is None:
            continue
        path, form = _path(rule, values), None
        if view_endpoint in views and action in ("details_view", "edit_view"):
            model = views[view_endpoint].model.__name__
            if model not in reg.ADMIN_MODELS:
                unknown.add(f"{rule.rule}: Flask-Admin model {model} ({rule.endpoint})")
                continue
            if reg.ADMIN_MODELS[model] is None:
                continue
            path, strict = f"{path}?id={env.value(reg.ADMIN_MODELS, model)}", True
        elif rule.endpoint in reg.ADMIN_FORMS:
            if method != "POST":
                continue
            form, strict = reg.ADMIN_FORMS[rule.endpoint](env), True
        if strict:
            plan.append((method, path, form))
    assert not unknown, "classify these ids in tests/security/scoping_records.py:\n" + "\n".join(sorted(unknown))
    clients = {}
    for who in ("manager", "alice", "owner"):
        clients[who] = app.test_client()
        assert login(clients[who], who).status_code == 302
    before = _watched(app)
    for method, path, form in plan:
        for who in ("manager", "alice"):
            r = clients[who].open(path, method=method, data=form or {})
            text = r.get_data(as_text=True)
            leaked = [v for v in LEAKS if v in text]
            refused = r.status_code in (403, 404) or (r.status_code == 302 and "id=" not in r.headers["Location"]
                                                       and "/customers/" not in r.headers["Location"])
            if form is not None:
                refused = refused or (r.status_code == 200 and "No such customer here." in text)
            if not refused or leaked:
                leaks.append(f"{who} {method} {path} -> {r.status_code} {leaked} {r.headers.get('Location')}")
    assert leaks == [], "\n".join(leaks)
    assert _watched(app) == before, "a refused admin request changed records"
    # the owner opens the same pages: the rows exist, the refusal above was the rule
    owner_gets = [p for m, p, f in plan if m == "GET" and "/edit/" not in p]
    assert owner_gets and [(p, s) for p in owner_gets if (s := clients["owner"].get(p).status_code) != 200] == []


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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_admin_page_of_sh001_shows_bj001s_people(env):
    """Every admin page that takes no id (lists, create forms with their select boxes, panels),
    opened by SH001's manager and staff after every BJ001 record above exists, shows none of
    BJ001's personal data."""
    from tests.admin.conftest import login

    app = env.app
    for table in (reg.RECORD_PARAMS, reg.ADMIN_MODELS):
        for key, make in table.items():
            if make is not None:
                env.value(table, key)
    pages = sorted({rule.rule for rule, method in _rules(app, "/admin/") if method == "GET" and not rule.arguments})
    seen, bad = 0, []
    for who in ("manager", "alice"):
        client = app.test_client()
        assert login(client, who).status_code == 302
        for page in pages:
            r = client.get(page)
            text = r.get_data(as_text=True)
            leaked = [v for v in LEAKS if v in text]
            seen += r.status_code == 200
            if r.status_code >= 500 or leaked:
                bad.append(f"{who} GET {page} -> {r.status_code} {leaked}")
    assert bad == [], "\n".join(bad)
    assert seen > 20  # the pages opened: the check ran on real pages, not on refusals
    owner = app.test_client()
    assert login(owner, "owner").status_code == 302
    # the owner, who sees every store, finds BJ001's customer on these pages: the check can see a leak
    shown = {p for p in pages if BJ_PERSON["name"] in owner.get(p).get_data(as_text=True)}
    assert {"/admin/customers/", "/admin/feedback/complaints/", "/admin/feedback/entries/",
            "/admin/campaigns/outbox/"} <= shown
