"""Analysis from the ledger: turnover, days of cover, best and slowest sellers (slow relative to
stock, never a best seller), dead stock and stock value at cost, through the API and the admin."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()


def test_turnover_cover_best_slowest_dead_and_value(shop):
    shop.move("LATTE-M", 20)
    shop.move("CAKE-CHOC", 50)
    shop.move("BEANS-1KG", 5)
    shop.sell("LATTE-M", 10, occurred_at=ago(5))
    shop.sell("CAKE-CHOC", 1, occurred_at=ago(100))  # its last sale: long ago
    r = shop.api.get("/inventory/analysis?days=30&limit=1", token=shop.chain.till)
    assert r.status_code == 200, r.json
    a = r.json
    by_sku = {p["sku"]: p for p in a["products"]}
    latte = by_sku["LATTE-M"]
    # sold 10; level 10 now, 0 thirty days ago (every move since added up to +10): average 5
    assert (latte["sold"], latte["level"], latte["average_level"], latte["turnover"], latte["days_of_cover"]) == (
        10, 10, 5, 2, 30)
    assert by_sku["BEANS-1KG"]["turnover"] == 0 and by_sku["BEANS-1KG"]["days_of_cover"] is None
    assert [p["sku"] for p in a["best"]] == ["LATTE-M"]
    assert [p["sku"] for p in a["slowest"]] == ["CAKE-CHOC"]  # 0 sold for 49 on the shelf; never the best seller
    assert [p["sku"] for p in a["dead"]] == ["BEANS-1KG", "CAKE-CHOC"] and a["dead_stock_days"] == 90
    assert a["stock_value"] == "3668.00"  # 10 × 8 + 49 × 12 + 5 × 600
    r = shop.api.get("/inventory/analysis?days=30&limit=5", token=shop.chain.till).json
    assert [p["sku"] for p in r["best"]] == ["LATTE-M"]  # only what sold in the period
    assert [p["sku"] for p in r["slowest"]] == ["CAKE-CHOC", "BEANS-1KG"]  # none sold: the larger stock first


def test_the_analysis_page_draws_its_charts_with_the_local_chart_js(shop):
    from tests.plugins.inventory.test_admin import login

    shop.move("LATTE-M", 20)
    shop.sell("LATTE-M", 4)
    page = login(shop.app, "manager").get("/admin/inventory/analysis/").get_data(as_text=True)
    assert "storecrm/vendor/chart.umd.min.js" in page and "cdn" not in page.lower()
    assert page.count('class="storecrm-chart"') == 3 and "¥128.00" in page
