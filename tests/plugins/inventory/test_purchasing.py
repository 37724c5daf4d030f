"""Reordering: suggestions from min/max and from sales velocity × lead time; suppliers; a purchase
order's life draft → sent (emailed to a real local SMTP server) → partly received → received at
cost, illegal transitions refused; another store's order is not found."""

from __future__ import annotations

import socket
from email.header import decode_header, make_header

import pytest

from tests.conftest import build_chain, enable
from tests.plugins.inventory.conftest import Shop


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd) keeping what it receives."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield {"port": port, "received": received}
    controller.stop()


@pytest.fixture
def mailing_shop(make_app, smtp):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp["port"], SMTP_FROM="shop@example.com")
    chain = build_chain(app)
    enable(app, "SH001", "inventory")
    return Shop(app, chain)


def supplier(shop, **values) -> int:
    body = {"name": "云南咖啡豆合作社", "contact": "李经理", "email": "orders@yunnan-beans.example", "lead_time_days": 10,
            "store": "SH001", **values}
    r = shop.api.post("/inventory/suppliers", body, token=shop.chain.manager_token)
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_suggestions_come_from_min_max_or_from_velocity_and_lead_time(shop):
    mgr = shop.chain.manager_token
    shop.move("LATTE-M", 30)
    shop.move("CAKE-CHOC", 3)
    # min/max: at or under the safety stock (5), order up to the max level
    assert shop.api.put("/inventory/stock/CAKE-CHOC", {"max_level": 20, "store": "SH001"}, token=mgr).status_code == 200
    # velocity: 28 sold in the last 28 days = 1 a day; lead time 7 days → reorder point 5 + 7 = 12
    for _ in range(2):
        shop.sell("LATTE-M", 9)
    shop.sell("LATTE-M", 10)  # level 2
    rows = {s["sku"]: s for s in shop.api.get("/inventory/reorder-suggestions", token=shop.chain.till).json}
    assert (rows["CAKE-CHOC"]["method"], rows["CAKE-CHOC"]["quantity"]) == ("min_max", 17)
    latte = rows["LATTE-M"]
    # 5 + 1 × 7 (lead) + 1 × 7 (review) − 2 on hand = 17
    assert (latte["method"], latte["daily_sales"], latte["lead_time_days"], latte["quantity"]) == ("velocity", 1, 7, 17)
    assert "BEANS-1KG" not in rows


def test_a_purchase_order_is_sent_by_email_received_in_parts_and_adds_stock_at_cost(mailing_shop, smtp):
    shop = mailing_shop
    mgr = shop.chain.manager_token
    shop.move("BEANS-1KG", 2, unit_cost="600.00")
    supplier_id = supplier(shop)
    r = shop.api.post("/inventory/purchase-orders", {"supplier_id": supplier_id, "store": "SH001", "note": "加急",
                                                     "lines": [{"sku": "BEANS-1KG", "quantity": 10, "unit_cost": "540.00"},
                                                               {"sku": "LATTE-M", "quantity": 5}]}, token=mgr)
    assert r.status_code == 201, r.json
    order = r.json
    assert (order["status"], order["status_label"], order["total_cost"]) == ("draft", "Draft", "5440.00")
    # a draft cannot be received
    r = shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts", {"store": "SH001"}, token=mgr)
    assert r.status_code == 422 and r.json["error"]["status"] == "draft"
    r = shop.api.post(f"/inventory/purchase-orders/{order['id']}/send", {"store": "SH001"}, token=mgr)
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["emailed_to"], r.json["email_error"]) == ("sent", "orders@yunnan-beans.example", None)
    [mail] = smtp["received"]
    assert mail["To"] == "orders@yunnan-beans.example" and mail["From"] == "shop@example.com"
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject.replace("\r\n", "").startswith(f"采购订单 Purchase order #{order['id']} · 上海南京路店")
    body = mail.get_payload(decode=True).decode("utf-8")
    assert "BEANS-1KG" in body and "× 10" in body and "¥5440.00" in body and "加急" in body
    assert shop.stock("BEANS-1KG")["on_order"] == 10
    # sending again is illegal
    assert shop.api.post(f"/inventory/purchase-orders/{order['id']}/send", {"store": "SH001"}, token=mgr).status_code == 422
    # part of it arrives; more than is outstanding is refused and books nothing
    r = shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts",
                      {"store": "SH001", "lines": [{"sku": "BEANS-1KG", "quantity": 11}]}, token=shop.chain.staff_token)
    assert r.status_code == 422 and r.json["error"]["fields"] == {"lines.0.quantity": ["Only 10 of BEANS-1KG are outstanding."]}
    r = shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts",
                      {"store": "SH001", "lines": [{"sku": "BEANS-1KG", "quantity": 4}]}, token=shop.chain.staff_token)
    assert r.status_code == 201, r.json
    assert r.json["status"] == "partly_received" and r.json["status_label"] == "Partly received"
    assert [(x["sku"], x["received_quantity"], x["outstanding"]) for x in r.json["lines"]] == [
        ("BEANS-1KG", 4, 6), ("LATTE-M", 0, 5)]
    beans = shop.stock("BEANS-1KG")
    # (2 × 600 + 4 × 540) ÷ 6 = 560
    assert (beans["level"], beans["on_order"], beans["unit_cost"]) == (6, 6, "560.00")
    # a partly received order cannot be cancelled; the rest arrives
    assert shop.api.post(f"/inventory/purchase-orders/{order['id']}/cancel", {"store": "SH001"}, token=mgr).status_code == 422
    r = shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts", {"store": "SH001"}, token=mgr)
    assert r.json["status"] == "received" and r.json["received_at"] is not None
    assert (shop.level("BEANS-1KG"), shop.level("LATTE-M")) == (12, 5)
    moves = shop.api.get("/inventory/moves?sku=BEANS-1KG&kind=receipt", token=shop.chain.till).json["items"]
    assert [(m["quantity"], m["unit_cost"], m["purchase_order_id"]) for m in moves] == [
        (2, "600.00", None), (4, "540.00", order["id"]), (6, "540.00", order["id"])]
    assert shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts", {"store": "SH001"}, token=mgr).status_code == 422


def test_an_order_from_the_suggestions_and_a_cancelled_one(shop):
    mgr = shop.chain.manager_token
    supplier_id = supplier(shop, email=None)
    shop.move("CAKE-CHOC", 1)
    r = shop.api.post("/inventory/purchase-orders", {"supplier_id": supplier_id, "store": "SH001", "from_suggestions": True},
                      token=mgr)
    assert r.status_code == 201, r.json
    # no sales yet: order up to the safety stock (5) + nothing for velocity, less the 1 on hand
    assert [(x["sku"], x["quantity"], x["unit_cost"]) for x in r.json["lines"]] == [("CAKE-CHOC", 4, "12.00")]
    sent = shop.api.post(f"/inventory/purchase-orders/{r.json['id']}/send", {"store": "SH001"}, token=mgr).json
    assert sent["status"] == "sent" and sent["emailed_to"] is None  # no SMTP here, no address
    cancelled = shop.api.post(f"/inventory/purchase-orders/{r.json['id']}/cancel", {"store": "SH001"}, token=mgr).json
    assert (cancelled["status"], cancelled["status_label"]) == ("cancelled", "Cancelled")
    assert shop.stock("CAKE-CHOC")["on_order"] == 0
    r = shop.api.post("/inventory/purchase-orders", {"supplier_id": supplier_id, "store": "SH001", "from_suggestions": True,
                                                     "lines": []}, token=mgr)
    assert r.status_code == 201  # the cancelled order no longer counts as on order: suggested again


def test_another_stores_order_is_not_found_and_staff_cannot_draft(shop):
    enable(shop.app, "BJ001", "inventory")
    supplier_id = supplier(shop)
    order = shop.api.post("/inventory/purchase-orders", {"supplier_id": supplier_id, "store": "SH001",
                                                         "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                          token=shop.chain.manager_token).json
    assert shop.api.get(f"/inventory/purchase-orders/{order['id']}", token=shop.chain.till_bj).status_code == 404
    assert shop.api.post(f"/inventory/purchase-orders/{order['id']}/receipts", {}, token=shop.chain.till_bj).status_code == 404
    assert shop.api.post("/inventory/purchase-orders", {"supplier_id": supplier_id, "store": "SH001",
                                                        "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                         token=shop.chain.staff_token).status_code == 403
