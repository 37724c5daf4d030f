"""Inventory in the admin: the stock page with what to reorder, a move by hand, the stock card,
orders, a count by scanner at the counter, transfers; in Chinese with no raw codes."""

from __future__ import annotations

from tests.conftest import enable


def login(app, username: str, locale: str | None = None):
    client = app.test_client()
    r = client.post("/admin/login", data={"username": username, "password": "correct horse battery"})
    assert r.status_code in (302, 303), r.data[:300]
    if locale:
        assert client.post("/admin/language", data={"locale": locale}).status_code in (302, 303)
    return client


def product_id(app, sku: str) -> int:
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Product

    with app.app_context():
        return db.session.scalars(select(Product.id).where(Product.sku == sku)).one()


def test_the_manager_sees_what_to_reorder_orders_it_and_receives_it(shop):
    manager = login(shop.app, "manager")
    r = manager.post("/admin/inventory/stock/", data={"kind": "receipt", "item": "CAKE-CHOC", "quantity": "2",
                                                      "reason": "开业备货", "unit_cost": "12.00"})
    assert r.status_code == 302
    page = manager.get("/admin/inventory/stock/").get_data(as_text=True)
    assert 'data-suggestion="CAKE-CHOC"' in page and "Below safety stock" in page and "(store default)" in page
    assert shop.api.post("/inventory/suppliers", {"name": "甜点工坊", "store": "SH001"},
                         token=shop.chain.manager_token).status_code == 201
    supplier_id = shop.api.get("/inventory/suppliers", token=shop.chain.till).json[0]["id"]
    r = manager.post("/admin/inventory/stock/order", data={"supplier_id": supplier_id})
    assert r.status_code == 302 and "/admin/inventory/orders/" in r.headers["Location"]
    order_url = r.headers["Location"]
    assert "Draft" in manager.get(order_url).get_data(as_text=True)
    assert manager.post(order_url, data={"action": "send"}).status_code == 302
    assert manager.post(order_url, data={"action": "receive", "qty:CAKE-CHOC": "1"}).status_code == 302
    page = manager.get(order_url).get_data(as_text=True)
    assert "Partly received" in page
    assert shop.level("CAKE-CHOC") == 3
    card = manager.get(f"/admin/inventory/product/{product_id(shop.app, 'CAKE-CHOC')}")
    assert card.status_code == 200
    text = card.get_data(as_text=True)
    assert "开业备货" in text and "Receipt" in text and "PO #" in text


def test_a_refused_move_says_why_and_staff_cannot_adjust(shop):
    alice = login(shop.app, "alice")
    r = alice.post("/admin/inventory/stock/", data={"kind": "adjustment", "item": "LATTE-M", "quantity": "-1",
                                                    "reason": "x"})
    assert r.status_code == 403
    r = alice.post("/admin/inventory/stock/", data={"kind": "receipt", "item": "LATTE-M", "quantity": "3", "reason": ""},
                   follow_redirects=True)
    assert "Say why the stock changes." in r.get_data(as_text=True)
    assert shop.level("LATTE-M") == 0


def test_a_count_at_the_counter_and_its_posting(shop):
    shop.move("LATTE-M", 5)
    manager = login(shop.app, "manager")
    assert manager.post("/admin/inventory/stocktakes/", data={"category": ""}).status_code == 302
    take_id = shop.api.post("/inventory/stocktakes", {"store": "SH001"}, token=shop.chain.manager_token).json["error"][
        "open_stocktake_id"]
    url = f"/admin/inventory/stocktakes/{take_id}"
    for _ in range(3):
        manager.post(url, data={"action": "count", "barcode": "LATTE-M", "quantity": "1"})
    page = manager.get(url).get_data(as_text=True)
    assert 'data-variance>-2<' in page
    assert manager.post(url, data={"action": "post"}).status_code == 302
    assert shop.level("LATTE-M") == 3


def test_pages_are_gone_where_inventory_is_off(app, chain):
    manager = login(app, "manager")
    assert manager.get("/admin/inventory/stock/").status_code == 404
    assert manager.get("/admin/inventory/moves/").status_code == 404


def test_the_pages_speak_chinese_with_no_raw_codes(shop):
    enable(shop.app, "BJ001", "inventory")
    shop.move("LATTE-M", 10)
    shop.sell("LATTE-M", 8)
    shop.api.post("/inventory/transfers", {"store": "SH001", "to_store": "BJ001", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                  token=shop.chain.manager_token)
    manager = login(shop.app, "manager", "zh_CN")
    stock = manager.get("/admin/inventory/stock/").get_data(as_text=True)
    assert "库存" in stock and "低于安全库存" in stock and "建议订货" in stock
    ledger = manager.get("/admin/inventory/moves/").get_data(as_text=True)
    assert "销售" in ledger and "入库" in ledger and "调出" in ledger
    for raw in (">sale<", ">receipt<", ">transfer_out<"):
        assert raw not in ledger
    transfers = manager.get("/admin/inventory/transfers/").get_data(as_text=True)
    assert "在途" in transfers and "in_transit" not in transfers
    assert "低于安全库存" in manager.get("/admin/").get_data(as_text=True)


def test_the_manager_sets_a_products_safety_stock_and_sends_a_transfer_in_the_admin(shop):
    enable(shop.app, "BJ001", "inventory")
    shop.move("BEANS-1KG", 9)
    manager = login(shop.app, "manager")
    url = f"/admin/inventory/product/{product_id(shop.app, 'BEANS-1KG')}"
    assert manager.post(url, data={"safety_stock": "10", "max_level": "25", "lead_time_days": "3"}).status_code == 302
    row = shop.stock("BEANS-1KG")
    assert (row["safety_stock"], row["max_level"], row["lead_time_days"], row["below_safety"]) == (10, 25, 3, True)
    r = manager.post(url, data={"safety_stock": "10", "max_level": "5"}, follow_redirects=True)
    assert "Order up to at least the safety stock." in r.get_data(as_text=True)
    assert login(shop.app, "alice").post(url, data={"safety_stock": "1"}).status_code == 403
    r = manager.post("/admin/inventory/transfers/", data={"action": "send", "to_store": "BJ001", "sku": "BEANS-1KG",
                                                          "quantity": "2"})
    assert r.status_code == 302 and shop.level("BEANS-1KG") == 7
    incoming = shop.api.get("/inventory/transfers", token=shop.chain.till_bj).json
    assert [(t["from_store"], t["status"], t["lines"][0]["quantity"]) for t in incoming] == [("SH001", "in_transit", 2)]
