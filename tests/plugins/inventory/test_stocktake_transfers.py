"""Stocktakes by scanner (posts add up, variances against the level when each item was first
counted, so sales during the count are no variance) and transfers with stock in transit."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import enable
from tests.plugins.inventory.conftest import ledger


def set_barcodes(app):
    from sqlalchemy import update

    from core.extensions import db
    from core.models import Product

    with app.app_context():
        for sku, code in (("LATTE-M", "6901234500011"), ("CAKE-CHOC", "6901234500028"), ("BEANS-1KG", "6901234500035")):
            db.session.execute(update(Product).where(Product.sku == sku).values(barcode=code))
        db.session.commit()


def scan(shop, take_id, barcode, quantity=None, token=None, expect=201):
    body = {"barcode": barcode} if quantity is None else {"barcode": barcode, "quantity": quantity}
    r = shop.api.post(f"/inventory/stocktakes/{take_id}/counts", body, token=token or shop.chain.till)
    assert r.status_code == expect, r.json
    return r.json


def test_a_count_with_sales_during_it_posts_only_the_real_variances(shop):
    set_barcodes(shop.app)
    shop.move("LATTE-M", 10)
    shop.move("CAKE-CHOC", 6)
    shop.move("BEANS-1KG", 3)
    r = shop.api.post("/inventory/stocktakes", {"store": "SH001"}, token=shop.chain.manager_token)
    assert r.status_code == 201, r.json
    take = r.json
    # a second count of the same store while one is open is a conflict
    assert shop.api.post("/inventory/stocktakes", {"store": "SH001"}, token=shop.chain.manager_token).status_code == 409
    for _ in range(4):  # four lattes on the shelf, scanned one by one (expected: 10 when first scanned)
        line = scan(shop, take["id"], "6901234500011")
    assert (line["counted"], line["expected"], line["variance"]) == (4, 10, -6)
    shop.sell("LATTE-M", 2)  # sold during the count, after the lattes were counted: no variance
    scan(shop, take["id"], "6901234500011", 5)  # a second scanner finds five more at the back: 9 in all
    shop.sell("CAKE-CHOC", 1)  # sold before the cakes were counted: the expectation is 5, not 6
    cake = scan(shop, take["id"], "6901234500028", 5)
    assert (cake["counted"], cake["expected"], cake["variance"]) == (5, 5, 0)
    view = shop.api.get(f"/inventory/stocktakes/{take['id']}", token=shop.chain.till).json
    assert [(x["sku"], x["counted"], x["expected"], x["variance"]) for x in view["lines"]] == [
        ("LATTE-M", 9, 10, -1), ("CAKE-CHOC", 5, 5, 0)]
    assert view["uncounted"] == [{"sku": "BEANS-1KG", "name": "咖啡豆 1kg", "level": 3}]
    assert view["variance_value"] == "-8.00"  # one latte at its ¥8 cost
    # an unknown barcode, staff posting the count, a second post
    assert scan(shop, take["id"], "000", expect=400)["error"]["fields"] == {"barcode": ["Unknown barcode 000."]}
    assert shop.api.post(f"/inventory/stocktakes/{take['id']}/post", {}, token=shop.chain.staff_token).status_code == 403
    r = shop.api.post(f"/inventory/stocktakes/{take['id']}/post", {"store": "SH001"}, token=shop.chain.manager_token)
    assert r.status_code == 200 and (r.json["status"], r.json["status_label"]) == ("posted", "Posted")
    # 10 − 2 sold − 1 variance = 7 lattes; cakes 6 − 1 = 5; beans untouched
    assert ledger(shop.app, "SH001", "LATTE-M") == (Decimal(7), Decimal(7))
    assert ledger(shop.app, "SH001", "CAKE-CHOC") == (Decimal(5), Decimal(5))
    assert shop.level("BEANS-1KG") == 3
    moves = shop.api.get("/inventory/moves?kind=stocktake", token=shop.chain.till).json["items"]
    assert [(m["sku"], m["quantity"], m["stocktake_id"], m["kind_label"]) for m in moves] == [
        ("LATTE-M", -1, take["id"], "Stocktake")]
    assert shop.api.post(f"/inventory/stocktakes/{take['id']}/post", {"store": "SH001"},
                         token=shop.chain.manager_token).status_code == 422
    assert scan(shop, take["id"], "6901234500011", expect=422)["error"]["status"] == "posted"


def test_a_category_count_refuses_other_items_and_another_store_cannot_see_it(shop):
    set_barcodes(shop.app)
    enable(shop.app, "BJ001", "inventory")
    take = shop.api.post("/inventory/stocktakes", {"store": "SH001", "category": "cake"}, token=shop.chain.manager_token).json
    r = scan(shop, take["id"], "6901234500011", expect=422)
    assert r["error"]["fields"] == {"barcode": ["LATTE-M is coffee; this count is cake only."]}
    scan(shop, take["id"], "CAKE-CHOC", 2)  # a SKU works where a label has no barcode
    assert shop.api.get(f"/inventory/stocktakes/{take['id']}", token=shop.chain.till_bj).status_code == 404
    assert scan(shop, take["id"], "6901234500028", token=shop.chain.till_bj, expect=404)


def test_a_transfer_leaves_the_sender_at_once_and_arrives_when_received(shop):
    enable(shop.app, "BJ001", "inventory")
    shop.move("BEANS-1KG", 10)
    r = shop.api.post("/inventory/transfers", {"store": "SH001", "to_store": "BJ001", "note": "北京店缺货",
                                               "lines": [{"sku": "BEANS-1KG", "quantity": 4}]}, token=shop.chain.manager_token)
    assert r.status_code == 201, r.json
    transfer = r.json
    assert (transfer["status"], transfer["status_label"], transfer["from_store"], transfer["to_store"]) == (
        "in_transit", "In transit", "SH001", "BJ001")
    assert shop.level("BEANS-1KG") == 6
    bj = shop.api.get("/inventory/stock?sku=BEANS-1KG", token=shop.chain.till_bj).json["items"][0]
    assert (bj["level"], bj["in_transit"]) == (0, 4)
    # only the receiving store books it in
    r = shop.api.post(f"/inventory/transfers/{transfer['id']}/receive", {}, token=shop.chain.till)
    assert r.status_code == 422
    r = shop.api.post(f"/inventory/transfers/{transfer['id']}/receive", {}, token=shop.chain.till_bj)
    assert r.status_code == 200 and r.json["status"] == "received"
    bj = shop.api.get("/inventory/stock?sku=BEANS-1KG", token=shop.chain.till_bj).json["items"][0]
    assert (bj["level"], bj["in_transit"]) == (4, 0)
    assert ledger(shop.app, "BJ001", "BEANS-1KG") == (Decimal(4), Decimal(4))
    assert shop.api.post(f"/inventory/transfers/{transfer['id']}/receive", {}, token=shop.chain.till_bj).status_code == 422
    kinds = [m["kind"] for m in shop.api.get("/inventory/moves?sku=BEANS-1KG", token=shop.chain.till).json["items"]]
    assert kinds == ["receipt", "transfer_out"]
    r = shop.api.post("/inventory/transfers", {"store": "SH001", "to_store": "SH001",
                                               "lines": [{"sku": "BEANS-1KG", "quantity": 1}]}, token=shop.chain.manager_token)
    assert r.status_code == 400


def test_a_transfer_to_a_store_without_inventory_is_refused(shop):
    r = shop.api.post("/inventory/transfers", {"store": "SH001", "to_store": "BJ001",
                                               "lines": [{"sku": "BEANS-1KG", "quantity": 1}]}, token=shop.chain.manager_token)
    assert r.status_code == 422 and r.json["error"]["fields"] == {"to_store": ["No store BJ001 with inventory on."]}
