"""`demo_seed`: believable suppliers and stock after months of sales, a few items near or under
their safety stock, an order received and one awaited; a second run adds nothing."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from tests.plugins.inventory.conftest import ledger


def test_demo_stock_is_believable_and_seeded_once(shop):
    from core.extensions import db
    from core.models import Store
    from core.plugins import HookContext
    from plugins.inventory.models import Alert, Move, PurchaseOrder, Supplier

    for n in range(6):  # the demo's history: sales before any stock was booked
        shop.sell("LATTE-M", 2)
        shop.sell("CAKE-CHOC", 1)
        shop.sell("BEANS-1KG", 1)
    reg = shop.app.extensions["storecrm.plugins"]

    def seed():
        with shop.app.app_context():
            store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
            ctx = HookContext(session=db.session, store=store, actor="demo", registry=reg)
            reg.caller_for("demo_seed", "inventory")(store=store, rng=random.Random(7), today=date(2026, 11, 30),
                                                     ctx=ctx.for_plugin("inventory"))
            db.session.commit()

    seed()
    stock = {s["sku"]: s for s in shop.api.get("/inventory/stock", token=shop.chain.till).json["items"]}
    assert set(stock) == {"LATTE-M", "CAKE-CHOC", "BEANS-1KG"}
    low = stock["BEANS-1KG"]  # the first product by SKU runs low, with an order awaited
    assert low["below_safety"] is True and 0 < low["level"] < low["safety_stock"] and low["on_order"] == 12
    assert stock["CAKE-CHOC"]["level"] == stock["CAKE-CHOC"]["safety_stock"] + 1  # just above the line
    assert all(s["level"] > 0 and s["supplier_id"] for s in stock.values())
    for sku in stock:
        running, moves = ledger(shop.app, "SH001", sku)
        assert running == moves == Decimal(str(stock[sku]["level"]))
    orders = shop.api.get("/inventory/purchase-orders", token=shop.chain.till).json
    assert [o["status"] for o in orders] == ["sent", "received"]
    assert [a["sku"] for a in shop.api.get("/inventory/alerts?open=true", token=shop.chain.till).json["items"]] == ["BEANS-1KG"]
    with shop.app.app_context():
        before = [db.session.scalar(select(func.count()).select_from(t)) for t in (Move, PurchaseOrder, Supplier, Alert)]
    seed()
    with shop.app.app_context():
        assert [db.session.scalar(select(func.count()).select_from(t)) for t in (Move, PurchaseOrder, Supplier, Alert)] == before


def test_the_check_command_finds_a_total_that_disagrees_with_its_moves(shop):
    from sqlalchemy import update

    from core.extensions import db
    from plugins.inventory.models import Stock

    shop.move("LATTE-M", 5)
    runner = shop.app.test_cli_runner()
    result = runner.invoke(args=["inventory", "check", "--store", "SH001"])
    assert result.exit_code == 0 and "every level equals the sum of its moves" in result.output
    with shop.app.app_context():
        db.session.execute(update(Stock).values(quantity=4))  # a total written behind the ledger's back
        db.session.commit()
    result = runner.invoke(args=["inventory", "check", "--store", "SH001"])
    assert result.exit_code == 1 and "LATTE-M: level 4" in result.output and "add up to 5" in result.output
