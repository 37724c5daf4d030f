"""The SQL a sale costs, pinned: a regression guard on round trips, not a timing.

One till sale to a known member with every bundled plugin on in the store. The budget is the
count measured when it was last brought down (docs/performance.md); a change that adds a
query per sale fails here and lists the statements. If you removed one, lower the budget."""

from __future__ import annotations

import pytest

from bench.measure import count_statements
from tests.conftest import BUNDLED, enable

# Statements for POST /api/v1/sales, from authentication to the answer, all plugins on.
# SQLite counts its explicit BEGIN IMMEDIATE; PostgreSQL writes many rows in one INSERT.
BUDGET = {"sqlite": 36, "postgresql": 34}
CORE_BUDGET = {"sqlite": 20, "postgresql": 18}  # the same sale with no plugin enabled


def sale(external_id, lines=1):
    skus = ["LATTE-M", "CAKE-CHOC"]
    return {"external_id": external_id, "customer": {"phone": "138 0013 8000"},
            "lines": [{"sku": skus[i % 2], "quantity": 1} for i in range(lines)],
            "payments": []}


def measure(app, api, token, body):
    from core.extensions import db

    with app.app_context():
        engine = db.engine
    with count_statements(engine) as box:
        r = api.post("/sales", body, token=token)
    assert r.status_code == 201, r.json
    return box


def test_one_sale_with_every_plugin_on_costs_a_fixed_number_of_statements(app, api, chain, backend):
    enable(app, "SH001", *BUNDLED)
    api.post("/sales", sale("warm-1"), token=chain.till)  # the member exists, as at a counter
    box = measure(app, api, chain.till, sale("t-1"))
    listing = "\n".join(box["statements"])
    assert box["count"] <= BUDGET[backend], f"{box['count']} statements (budget {BUDGET[backend]}):\n{listing}"
    # and it is the same for the next sale: nothing grows with the history
    again = measure(app, api, chain.till, sale("t-2"))
    assert again["count"] == box["count"], "\n".join(again["statements"])


def test_a_sale_without_plugins_costs_the_core_budget(app, api, chain, backend):
    api.post("/sales", sale("warm-1"), token=chain.till)
    box = measure(app, api, chain.till, sale("t-1"))
    assert box["count"] <= CORE_BUDGET[backend], "\n".join(box["statements"])


@pytest.mark.postgres_only
def test_statements_do_not_grow_with_the_lines_of_a_sale(app, api, chain, backend):
    if backend != "postgresql":
        pytest.skip("SQLite's driver inserts ORM rows one statement each; PostgreSQL batches them")
    enable(app, "SH001", *BUNDLED)
    api.post("/sales", sale("warm-1"), token=chain.till)
    two = measure(app, api, chain.till, sale("t-2", lines=2))
    many = measure(app, api, chain.till, sale("t-20", lines=20))
    assert many["count"] == two["count"], "\n".join(many["statements"])
