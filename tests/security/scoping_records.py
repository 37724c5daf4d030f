"""What the cross-store matrix (tests/security/test_cross_store.py) names for every id a route
takes: a record that store BJ001 owns (its customer, its sale...), made by a factory.

The matrix reads every route from `app.url_map` (API and admin, plugins included) and every
id field of an operation's body or query schema. An id it cannot classify here fails the
matrix, so a new route is covered the day it is added. A plugin registers its record types
with one line each, here or in `tests/plugins/<name>/scoping.py` (imported automatically):

    record("complaint_id", post("/feedback/complaints", {"customer_id": "{customer_id}", "text": "cold"}))
    body("POST", "api_feedback.create_complaint", {"customer_id": "{customer_id}", "text": "cold"})
    admin_model("Complaint", post("/feedback/complaints", {"customer_id": "{customer_id}", "text": "cold"}))

`post(path, body)` posts as BJ001's till (`token="owner_token"` for owner-only records, with
`"store": "BJ001"` in the body) and returns the new record's `id`; "{customer_id}",
"{sale_id}" and "{request_id}" in the body become BJ001's records. A factory may also be any
function `make(env) -> id` (env: app, api, chain, bj, sh_customer_id), or `row(model, **columns)`
for a row no API call makes. A registered GET "body" is sent as the query string (a list's
`customer_id=` filter naming BJ001's customer must be refused, not ignored). Every bundled plugin
is switched on in both stores before the matrix runs, so a 404 means the rule, not a
switched-off module.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

Factory = Callable[["Env"], Any]


@dataclass
class Env:
    app: Any
    api: Any
    chain: SimpleNamespace
    bj: SimpleNamespace  # customer_id, sale_id, request_id of store BJ001
    sh_customer_id: int  # a customer of SH001, the caller's own
    made: dict | None = None  # each factory runs once per matrix

    def value(self, table: dict, key):
        """`table[key](self)`, made once."""
        if self.made is None:
            self.made = {}
        if (id(table), key) not in self.made:
            self.made[(id(table), key)] = table[key](self)
        return self.made[(id(table), key)]


# path parameter → factory of a BJ001 record id: a caller of SH001 must get 404 (or 403)
RECORD_PARAMS: dict[str, Factory] = {}
# path parameter → a chain-wide value (a store code, a plugin name, an owner-only record)
CHAIN_PARAMS: dict[str, Factory] = {}
# (method, endpoint) → a body naming BJ001's records, sent by SH001's callers acting in SH001
BODIES: dict[tuple[str, str], Factory] = {}
# Flask-Admin model (class name) → factory of a BJ001 row (None: a chain-wide table)
ADMIN_MODELS: dict[str, Factory | None] = {}
# admin endpoint → form data naming BJ001's records (forms are not introspectable)
ADMIN_FORMS: dict[str, Factory] = {}


def _fill(value, env: Env):
    if isinstance(value, str):
        return value.format(customer_id=env.bj.customer_id, sale_id=env.bj.sale_id, request_id=env.bj.request_id,
                            sh_customer_id=env.sh_customer_id)
    if isinstance(value, dict):
        return {k: _fill(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, env) for v in value]
    return value


def _int_ids(value):
    """"{customer_id}" placeholders are ints in JSON bodies."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, dict):
        return {k: _int_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_int_ids(v) for v in value]
    return value


def post(path: str, body: dict, token: str = "till_bj") -> Factory:
    """A factory: POST `body` to the API as BJ001's `token`; the answer's `id`."""

    def make(env: Env):
        r = env.api.post(path, _int_ids(_fill(body, env)), token=getattr(env.chain, token))
        assert r.status_code in (200, 201), (path, r.status_code, r.get_data(as_text=True)[:300])
        return r.json["id"]

    return make


def row(model_path: str, **columns) -> Factory:
    """A factory: insert one row of `model_path` ("plugins.x.models.Model"); column values may be
    functions of env (e.g. `store_id=bj_store`) for records no API call makes (call tasks...)."""

    def make(env: Env):
        import importlib as _imp

        from core.extensions import db

        module, name = model_path.rsplit(".", 1)
        model = getattr(_imp.import_module(module), name)
        with env.app.app_context():
            obj = model(**{k: (v(env) if callable(v) else v) for k, v in columns.items()})
            db.session.add(obj)
            db.session.commit()
            return obj.id

    return make


def bj_store(env: Env) -> int:
    return env.chain.ids["bj"]


def bj_customer(env: Env) -> int:
    return env.bj.customer_id


def const(value) -> Factory:
    return lambda env: value


def template(body: dict) -> Factory:
    """A body with "{customer_id}"-style placeholders for BJ001's records."""
    return lambda env: _int_ids(_fill(body, env))


def record(param: str, make: Factory) -> None:
    RECORD_PARAMS[param] = make


def chain_param(param: str, make: Factory) -> None:
    CHAIN_PARAMS[param] = make


def body(method: str, endpoint: str, make: Factory | dict) -> None:
    BODIES[(method, endpoint)] = template(make) if isinstance(make, dict) else make


def admin_model(name: str, make: Factory | None) -> None:
    ADMIN_MODELS[name] = make


def admin_form(endpoint: str, make: Factory | dict) -> None:
    ADMIN_FORMS[endpoint] = template(make) if isinstance(make, dict) else make


def load_plugin_registrations() -> None:
    """Import `tests/plugins/<name>/scoping.py` of every plugin that has one."""
    import tests.plugins

    for info in pkgutil.iter_modules(tests.plugins.__path__):
        try:
            importlib.import_module(f"tests.plugins.{info.name}.scoping")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.plugins.{info.name}.scoping":
                raise


# --- the core's records -------------------------------------------------------------------------

BJ_REJECTED = "赵北京 13698765432 is not a phone"  # what BJ001's rejects file says


def _import_run(env: Env) -> int:
    from core.extensions import db
    from core.models import ImportRun

    import os

    from core.imports.jobs import absolute, encrypt_file
    from core.models import utcnow

    with env.app.app_context():
        os.makedirs(os.path.dirname(absolute("imports/bj.rejected.csv")), exist_ok=True)
        with open(absolute("imports/bj.rejected.csv"), "w", encoding="utf-8") as plain:
            plain.write(f"line,column,reason\n2,phone,{BJ_REJECTED}\n")
        run = ImportRun(store_id=env.chain.ids["bj"], kind="customers", file_name="bj.csv", file_path="imports/bj.csv",
                        status="done", rejected=1, finished_at=utcnow(),
                        rejects_path=encrypt_file("imports/bj.rejected.csv"))
        db.session.add(run)
        db.session.commit()
        return run.id


def _failed_delivery(env: Env) -> int:
    """A failed plugin reaction to BJ001's sale (what the deliveries page retries)."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Event, EventDelivery

    with env.app.app_context():
        event = db.session.scalars(select(Event).where(Event.store_id == env.chain.ids["bj"])).first()
        row = EventDelivery(event_id=event.id, plugin="scoping_matrix", status="failed", attempts=1, last_error="boom")
        db.session.add(row)
        db.session.commit()
        return row.id


def _bj_row(model_path: str, column: str, value_of: Callable[[Env], int]) -> Factory:
    """The id of a BJ001 row of a model (first row whose `column` is BJ001's record)."""

    def make(env: Env):
        import importlib as _imp

        from sqlalchemy import select

        from core.extensions import db

        module, name = model_path.rsplit(".", 1)
        model = getattr(_imp.import_module(module), name)
        with env.app.app_context():
            return db.session.scalar(select(model.id).where(getattr(model, column) == value_of(env)))

    return make


record("customer_id", lambda env: env.bj.customer_id)
record("sale_id", lambda env: env.bj.sale_id)
record("request_id", lambda env: env.bj.request_id)
record("import_id", _import_run)
record("delivery_id", _failed_delivery)

chain_param("code", const("BJ001"))  # a store's code: its settings and modules (403 for SH001)
chain_param("name", const("membership"))
chain_param("plugin_name", const("membership"))
chain_param("export_type", const("csv"))
chain_param("fmt", const("csv"))  # a list's export (issue 13): the rows are the caller's scope
chain_param("kind", const("customers"))  # an import template: headers only
chain_param("filename", const("none.css"))  # static files
chain_param("product_id", const(1))  # the catalogue is chain-wide; editing it is the owner's
# Webhooks (core/api/webhooks.py): the owner's, chain-wide; every other caller is refused.
chain_param("subscription_id", const(1))
chain_param("webhook_delivery_id", const(1))
chain_param("tier_id", const(1))  # membership tiers: one program for the chain, the owner's
chain_param("store_id", bj_store)  # a store (its sandbox reset page): the owner's, 403 for anyone else
chain_param("day_id", post("/membership/member-days", {"name": "周三会员日", "weekday": 2, "points_multiplier": "2",
                                                    "store": "BJ001"},
                           token="owner_token"))

SALE_LINE = [{"sku": "LATTE-M", "quantity": 1}]
body("POST", "api.sales.create_sale", {"store": "SH001", "customer": {"id": "{customer_id}"}, "lines": SALE_LINE})
body("POST", "api.sales.quote", {"store": "SH001", "customer": {"id": "{customer_id}"}, "lines": SALE_LINE})
body("POST", "api.sales.create_visit", {"store": "SH001", "customer": {"id": "{customer_id}"}})
body("GET", "api.webhooks.list_deliveries", {"subscription": 1})  # owner-only: refused to every other caller
# sync: a till of SH001 asking for BJ001's customer's sales is refused (404), not answered empty
body("GET", "api.sales_sync.list_sales", {"customer": "{customer_id}"})
body("POST", "api.privacy.open_request", {"kind": "access", "customer_id": "{customer_id}", "store": "SH001"})
# merge BJ001's customer into SH001's own (the path names SH001's: the body is the attack)
body("POST", "api.customers.merge_customer", {"merge_id": "{customer_id}"})

def _bj_member(env: Env) -> int:
    """BJ001's customer as a member with points (membership is on in both stores by now)."""
    if not getattr(env, "_member", None):
        r = env.api.post(f"/membership/members/{env.bj.customer_id}/enrol", {}, token=env.chain.till_bj)
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        r = env.api.post("/sales", {"customer": {"id": env.bj.customer_id},
                                    "lines": [{"sku": "BEANS-1KG", "quantity": 1}]}, token=env.chain.till_bj)
        assert r.status_code == 201, r.get_data(as_text=True)
        env._member = True
    return env.bj.customer_id


body("POST", "api.sales.create_sales_batch",
     {"store": "SH001", "sales": [{"customer": {"id": "{customer_id}"}, "lines": SALE_LINE}]})

admin_model("Sale", lambda env: env.bj.sale_id)
admin_model("Visit", _bj_row("core.models.Visit", "customer_id", lambda env: env.bj.customer_id))
admin_model("EventDelivery", lambda env: env.value(RECORD_PARAMS, "delivery_id"))
# Members and ledger entries have no details view (issue 13): a row links to the customer page.
admin_model("Member", None)
admin_model("PointsEntry", None)
for chain_wide in ("Store", "User", "ApiToken", "Product", "AuditLog", "Tier", "MemberDay", "Customer"):
    # Customer: the admin's customer list has no details/edit view (the customer page is
    # /admin/customers/<id>, in the matrix through customer_id)
    admin_model(chain_wide, None)

admin_form("sales_entry.index", {"customer_id": "{customer_id}", "sku_0": "LATTE-M", "quantity_0": "1",
                                 "action": "record"})
admin_form("membership_adjust.index", {"customer_id": "{customer_id}", "points": "5", "reason": "matrix"})


def _bj_refund_lines(env: Env) -> dict:
    """A refund naming a line of BJ001's sale by its id (issue 19's `line_id`)."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import SaleLine

    with env.app.app_context():
        line_id = db.session.scalar(select(SaleLine.id).where(SaleLine.sale_id == env.bj.sale_id).limit(1))
    return {"lines": [{"line_id": line_id or 1, "quantity": 1}], "reason": "x"}


body("POST", "api.sales.refund", _bj_refund_lines)
