"""Sync: `GET /sales` with filters and cursor pages, `updated_since` on sales, customers (erased
ones as tombstones) and products, each caller seeing only its stores."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from urllib.parse import quote

from tests.conftest import Api


def stamp() -> str:
    moment = datetime.now(timezone.utc)
    time.sleep(0.01)  # rows written after this have a later updated_at, on any clock resolution
    return quote(moment.isoformat())


def sell(api, token, external_id, phone="138 0013 8000"):
    r = api.post("/sales", {"external_id": external_id, "customer": {"phone": phone},
                            "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=token)
    assert r.status_code == 201, r.json
    return r.json


def pages(api, path, token):
    """Every item, following next_cursor; and how many pages it took."""
    items, cursor, count = [], None, 0
    while True:
        page = api.get(path + (f"&cursor={cursor}" if cursor else ""), token=token)
        assert page.status_code == 200, page.json
        items += page.json["items"]
        count += 1
        cursor = page.json["next_cursor"]
        if cursor is None:
            return items, count


def test_sales_sync_by_store_customer_status_and_updated_since_in_cursor_pages(app, api, chain, backend):
    first = [sell(api, chain.till, f"s-{i}") for i in range(3)]
    other = sell(api, chain.till, "s-other", phone="139 0000 3333")
    bj = sell(api, chain.till_bj, "bj-1", phone="137 0000 4444")
    since = stamp()
    assert api.post(f"/sales/{first[1]['id']}/refunds", {"reason": "cold"}, token=chain.till).status_code == 201
    late = sell(api, chain.till, "s-late")

    items, count = pages(api, "/sales?limit=2", chain.owner_token)
    assert [s["id"] for s in items] == sorted(s["id"] for s in [*first, other, bj, late]) and count == 3
    # A till sees its own store's sales only, and cannot ask for another's.
    items, _ = pages(api, "/sales?limit=50", chain.till)
    assert {s["store"] for s in items} == {"SH001"} and bj["id"] not in {s["id"] for s in items}
    assert api.get("/sales?store=BJ001", token=chain.till).status_code == 403
    assert api.get(f"/sales?customer={bj['customer_id']}", token=chain.till).status_code == 404
    # What changed since: the refunded sale and the new one.
    items, _ = pages(api, f"/sales?updated_since={since}&limit=50", chain.till)
    assert [(s["external_id"], s["status"]) for s in items] == [("s-1", "refunded"), ("s-late", "completed")]
    items, _ = pages(api, f"/sales?customer={other['customer_id']}&limit=50", chain.manager_token)
    assert [s["external_id"] for s in items] == ["s-other"]
    items, _ = pages(api, "/sales?status=refunded&store=SH001&limit=50", chain.owner_token)
    assert [s["external_id"] for s in items] == ["s-1"]
    assert api.get("/sales?updated_since=2026-01-01T00:00:00", token=chain.till).status_code == 400  # naive time


def test_customers_and_products_sync_with_erased_customers_as_tombstones(app, api, chain, backend):
    kept = api.post("/customers", {"name": "王芳", "phone": "138 0013 8000"}, token=chain.till).json
    gone = api.post("/customers", {"name": "张伟", "phone": "138 0013 8009"}, token=chain.till).json
    since = stamp()
    assert api.patch(f"/customers/{kept['id']}", {"notes": "oat milk"}, token=chain.till).status_code == 200
    erased = api.delete(f"/customers/{gone['id']}", token=chain.manager_token)
    assert erased.status_code == 200
    items, _ = pages(api, f"/customers?updated_since={since}&limit=50", chain.till)
    assert [c["id"] for c in items] == [kept["id"], gone["id"]]
    assert items[0]["name"] == "王芳" and "erased" not in items[0]
    assert set(items[1]) == {"id", "erased", "erased_at"} and items[1]["erased"] is True
    # Without updated_since the list is as before: the erased are not in it.
    assert [c["id"] for c in api.get("/customers?limit=50", token=chain.till).json["items"]] == [kept["id"]]
    # Another store's till sees neither.
    assert api.get(f"/customers?updated_since={since}", token=chain.till_bj).json["items"] == []

    r = api.patch("/products/1", {"price": "31.00"}, token=chain.owner_token)
    assert r.status_code == 200, r.json
    items, _ = pages(api, f"/products?updated_since={since}&limit=50", chain.till)
    assert [(p["id"], p["price"]) for p in items] == [(1, "31.00")] and items[0]["updated_at"]
