"""The level is the sum of the moves whatever happens (a hypothesis state machine over sales,
refunds, receipts, adjustments, stocktakes and transfers), and 20 tills selling the last 5
units at once in separate processes leave exactly the right level."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.conftest import enable
from tests.plugins.inventory.conftest import ledger

SKUS = ["LATTE-M", "CAKE-CHOC", "BEANS-1KG"]
_ids = itertools.count()


def test_the_level_always_equals_the_sum_of_the_moves(shop):
    enable(shop.app, "BJ001", "inventory")
    token, manager = shop.chain.till, shop.chain.manager_token
    api = shop.api

    class Ledger(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.expected = {sku: ledger(shop.app, "SH001", sku)[1] for sku in SKUS}
            self.sales: list[tuple[int, str, int]] = []  # (sale id, sku, units not yet refunded)

        @rule(sku=st.sampled_from(SKUS), quantity=st.integers(1, 20))
        def receive(self, sku, quantity):
            shop.move(sku, quantity)
            self.expected[sku] += quantity

        @rule(sku=st.sampled_from(SKUS), quantity=st.integers(-10, 10).filter(bool))
        def adjust(self, sku, quantity):
            shop.move(sku, quantity, kind="adjustment", reason="property")
            self.expected[sku] += quantity

        @rule(sku=st.sampled_from(SKUS), quantity=st.integers(1, 5))
        def sell(self, sku, quantity):
            sale = shop.sell(sku, quantity, external_id=f"h-{next(_ids)}")
            self.sales.append((sale["id"], sku, quantity))
            self.expected[sku] -= quantity

        @precondition(lambda self: any(left for _i, _s, left in self.sales))
        @rule(pick=st.integers(0, 100), quantity=st.integers(1, 5))
        def refund(self, pick, quantity):
            open_sales = [(i, s) for i, s in enumerate(self.sales) if s[2] > 0]
            index, (sale_id, sku, left) = open_sales[pick % len(open_sales)]
            quantity = min(quantity, left)
            shop.refund(sale_id, sku, quantity)
            self.sales[index] = (sale_id, sku, left - quantity)
            self.expected[sku] += quantity

        @rule(sku=st.sampled_from(SKUS), counted=st.integers(0, 30))
        def stocktake(self, sku, counted):
            take = api.post("/inventory/stocktakes", {"store": "SH001"}, token=manager).json
            r = api.post(f"/inventory/stocktakes/{take['id']}/counts", {"barcode": sku, "quantity": counted}, token=token)
            assert r.status_code == 201, r.json
            assert Decimal(str(r.json["expected"])) == self.expected[sku]
            assert api.post(f"/inventory/stocktakes/{take['id']}/post", {"store": "SH001"}, token=manager).status_code == 200
            self.expected[sku] = Decimal(counted)

        @rule(sku=st.sampled_from(SKUS), quantity=st.integers(1, 5))
        def transfer(self, sku, quantity):
            r = api.post("/inventory/transfers", {"store": "SH001", "to_store": "BJ001",
                                                  "lines": [{"sku": sku, "quantity": quantity}]}, token=manager)
            assert r.status_code == 201, r.json
            self.expected[sku] -= quantity

        @invariant()
        def level_is_the_sum_of_the_moves(self):
            for sku in SKUS:
                running, moves = ledger(shop.app, "SH001", sku)
                assert running == moves == self.expected[sku], sku

    run_state_machine_as_test(Ledger, settings=settings(
        max_examples=6, stateful_step_count=8, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))


def sell_at_once(shop, n: int, prefix: str, sku: str = "CAKE-CHOC") -> list[tuple[int, dict]]:
    """`n` tills post a sale of one `sku` at the same instant: a threaded HTTP server on
    loopback, one thread per till released by a barrier, each request on its own connection."""
    from werkzeug.serving import make_server

    from tests.api.test_concurrent_sales import post

    server = make_server("127.0.0.1", 0, shop.app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/sales"
    barrier, answers = threading.Barrier(n), []

    def till(i):
        barrier.wait()
        answers.append(post(url, shop.chain.till, {"external_id": f"{prefix}-{i}", "lines": [{"sku": sku, "quantity": 1}]}))

    threads = [threading.Thread(target=till, args=(i,)) for i in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        server.shutdown()
    return answers


@pytest.mark.postgres_only
def test_20_tills_at_once_selling_the_last_5_units(backend, request):
    """Below zero refused: exactly 5 sales go through, exactly 15 are refused naming the SKU and
    the level, and the level is 0 = the sum of the moves. Then, with below zero allowed, 20 more
    at once lose no decrement."""
    if backend != "postgresql":
        pytest.skip("concurrent writers with row locks: PostgreSQL")
    shop = request.getfixturevalue("shop")
    shop.settings(allow_negative_stock=False)
    shop.move("CAKE-CHOC", 5)
    answers = sell_at_once(shop, 20, "refused")
    assert sorted(status for status, _ in answers) == [201] * 5 + [422] * 15, answers
    refusals = [body["error"] for status, body in answers if status == 422]
    assert {e["message"] for e in refusals} == {"not enough stock: CAKE-CHOC (0 in stock)"}
    assert {tuple(e["fields"]) for e in refusals} == {("lines.0.quantity",)}
    assert ledger(shop.app, "SH001", "CAKE-CHOC") == (Decimal(0), Decimal(0))
    shop.settings(allow_negative_stock=True)
    shop.move("CAKE-CHOC", 5)
    answers = sell_at_once(shop, 20, "allowed")
    assert sorted(status for status, _ in answers) == [201] * 20
    assert ledger(shop.app, "SH001", "CAKE-CHOC") == (Decimal(-15), Decimal(-15))
