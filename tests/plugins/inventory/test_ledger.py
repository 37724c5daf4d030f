"""The stock ledger at the till: a sale moves stock out, a refund moves it back, a receipt or an
adjustment moves it by hand with a reason; the level is always the sum of the moves."""

from __future__ import annotations

from decimal import Decimal

from tests.plugins.inventory.conftest import ledger


def test_a_sale_takes_stock_a_refund_puts_it_back_and_every_move_explains_the_level(shop):
    assert shop.move("LATTE-M", 10, reason="晨间到货")["balance_after"] == 10
    sale = shop.sell("LATTE-M", 3)
    assert shop.level("LATTE-M") == 7
    shop.refund(sale["id"], "LATTE-M", 1)
    assert shop.level("LATTE-M") == 8
    moves = shop.api.get("/inventory/moves?sku=LATTE-M", token=shop.chain.till).json["items"]
    assert [(m["kind"], m["quantity"], m["balance_after"]) for m in moves] == [
        ("receipt", 10, 10), ("sale", -3, 7), ("refund", 1, 8)]
    assert moves[0]["reason"] == "晨间到货" and moves[0]["actor"] == "manager"
    assert moves[1]["sale_id"] == sale["id"] and moves[1]["kind_label"] == "Sale"
    assert ledger(shop.app, "SH001", "LATTE-M") == (Decimal(8), Decimal(8))


def test_a_redelivered_sale_event_moves_nothing_twice(shop):
    from sqlalchemy import select

    from core.events import retry_delivery
    from core.extensions import db
    from core.models import EventDelivery

    shop.move("CAKE-CHOC", 5)
    shop.sell("CAKE-CHOC", 2)
    with shop.app.app_context():
        delivery = db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == "inventory")).one()
        delivery.status = "failed"  # as if the worker had to retry it
        db.session.commit()
        assert retry_delivery(delivery.id) == "done"
    assert ledger(shop.app, "SH001", "CAKE-CHOC") == (Decimal(3), Decimal(3))


def test_moves_by_hand_need_a_reason_and_adjustments_a_manager(shop):
    r = shop.move("LATTE-M", 4, reason="", expect=400)
    assert "reason" in r["error"]["fields"]
    r = shop.move("LATTE-M", 0, kind="adjustment", reason="x", expect=400)
    assert r["error"]["fields"] == {"quantity": ["An adjustment cannot be 0."]}
    r = shop.move("LATTE-M", -2, kind="adjustment", reason="打碎两杯", token=shop.chain.staff_token, expect=403)
    shop.move("LATTE-M", -2, kind="adjustment", reason="打碎两杯")
    assert ledger(shop.app, "SH001", "LATTE-M") == (Decimal(-2), Decimal(-2))
    r = shop.move("NOPE", 1, expect=400)
    assert r["error"]["fields"] == {"sku": ["Unknown product NOPE."]}


def test_receipts_move_the_average_cost_and_the_stock_value(shop):
    shop.move("BEANS-1KG", 10, unit_cost="600.00")
    shop.move("BEANS-1KG", 10, unit_cost="700.00")
    row = shop.stock("BEANS-1KG")
    assert (row["level"], row["unit_cost"], row["value"]) == (20, "650.00", "13000.00")


def test_below_zero_is_allowed_by_default_and_the_quote_warns(shop):
    shop.move("CAKE-CHOC", 1)
    r = shop.api.post("/sales/quote", {"lines": [{"sku": "CAKE-CHOC", "quantity": 3}]}, token=shop.chain.till)
    assert r.status_code == 200, r.json
    assert r.json["adjustments"] == [] and r.json["total"] == "105.00"
    assert [(w["code"], w["amount"], w["data"]) for w in r.json["warnings"]] == [
        ("stock_short", "0.00", {"sku": "CAKE-CHOC", "level": "1", "requested": "3", "refused": False})]
    shop.sell("CAKE-CHOC", 3)
    assert shop.level("CAKE-CHOC") == -2


def test_refusing_below_zero_is_a_422_naming_the_sku_and_the_level(shop):
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import Sale

    shop.settings(allow_negative_stock=False)
    shop.move("CAKE-CHOC", 2)
    quote = shop.api.post("/sales/quote", {"lines": [{"sku": "CAKE-CHOC", "quantity": 3}]}, token=shop.chain.till).json
    assert quote["warnings"][0]["data"]["refused"] is True
    assert "will be refused" in quote["warnings"][0]["label"]
    r = shop.sell("CAKE-CHOC", 3, expect=422)
    assert r["error"]["message"] == "not enough stock: CAKE-CHOC (2 in stock)"
    assert r["error"]["fields"] == {"lines.0.quantity": ["Only 2 of CAKE-CHOC in stock; the sale needs 3."]}
    assert r["error"]["stock"] == [{"sku": "CAKE-CHOC", "level": "2", "requested": "3"}]
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
    shop.sell("CAKE-CHOC", 2)
    assert ledger(shop.app, "SH001", "CAKE-CHOC") == (Decimal(0), Decimal(0))


def test_a_store_without_inventory_keeps_no_stock_and_answers_404(shop):
    r = shop.sell("LATTE-M", 1, token=shop.chain.till_bj)
    assert r["total"] == "28.00"
    assert shop.api.get("/inventory/stock", token=shop.chain.till_bj).status_code == 404
    assert ledger(shop.app, "BJ001", "LATTE-M") == (Decimal(0), Decimal(0))
