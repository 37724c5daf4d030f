"""The per-sale update classifies only the customer concerned, against the store-relative
cuts the last full recompute stored (or computed once on demand): a sale that takes its buyer
over the cut makes them high at once; the others move at the nightly run (domain.md)."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.extensions import db
from tests.classification.helpers import ago, buy, bulk_sale, classes, customer, recompute, store


def cut(scope="SH001"):
    from core.classification.models import CHAIN_SCOPE, ClassificationCut

    db.session.expire_all()
    return db.session.get(ClassificationCut, CHAIN_SCOPE if scope == "chain" else store(scope).id)


def ten_spenders():
    people = [customer(f"c{i}") for i in range(10)]
    for i, who in enumerate(people):  # c9 spends most: ¥1,000; c0 least: ¥100
        bulk_sale(who, 100 * (i + 1), days_ago=5)
    db.session.commit()
    return people


def test_a_sale_over_the_stored_cut_makes_its_buyer_high_at_once(app, chain):
    with app.app_context():
        people = ten_spenders()
        recompute()
        stored = cut()
        # 10 buyers: the top 20% are the first 2 (¥1,000 and ¥900), the next 30% down to ¥600.
        assert (stored.source, stored.buyers, stored.high_amount, stored.medium_amount) == (
            "full", 10, Decimal("900.00"), Decimal("600.00"))
        assert classes(people[0])["amount_class"] == "low"
        buy(people[0], 800, days_ago=1)  # ¥900: exactly the cut, a tie goes to the higher class
        db.session.commit()
        assert classes(people[0])["amount_class"] == "high"
        assert classes(people[0])["final_class"] == "potential"
        buy(people[1], 300, days_ago=1)  # ¥500: under the ¥600 medium cut
        db.session.commit()
        assert classes(people[1])["amount_class"] == "low"
        # The others keep their classes until the nightly run moves the cuts.
        assert classes(people[8])["amount_class"] == "high"
        assert cut().computed_at == stored.computed_at
        recompute()
        assert cut().high_amount == Decimal("900.00")  # ¥1,000, ¥900, ¥900: c0 and c8 tie at rank 2
        assert [classes(p)["amount_class"] for p in (people[9], people[8], people[0])] == ["high"] * 3


def test_a_store_without_cuts_gets_them_computed_once_on_demand(app, chain):
    with app.app_context():
        people = ten_spenders()  # no full recompute has run yet
        assert cut() is None
        buy(people[0], 50, days_ago=1)  # ¥150
        db.session.commit()
        first = cut()
        assert (first.source, first.buyers, first.high_amount) == ("on_demand", 10, Decimal("900.00"))
        assert cut("chain").source == "on_demand"
        assert classes(people[0])["amount_class"] == "low"
        newcomer = customer("newcomer")
        buy(newcomer, 950, days_ago=1)
        db.session.commit()
        assert classes(newcomer)["amount_class"] == "high"
        assert cut().computed_at == first.computed_at  # kept, not recomputed per sale


def test_the_reason_names_the_cut_and_when_it_was_taken(app, chain):
    from core.classification.reasons import explain_scope

    with app.app_context():
        people = ten_spenders()
        recompute()
        buy(people[0], 800, days_ago=1)
        db.session.commit()
        reason = explain_scope(db.session, people[0].id, store().id)["reasons"]["amount_class"]
        assert "¥900.00" in reason and "last full recompute" in reason and reason.endswith("→ high spend")
        zh = explain_scope(db.session, people[0].id, store().id, lang="zh_CN")["reasons"]["amount_class"]
        assert "¥900.00" in zh and "高消费" in zh


@pytest.mark.postgres_only
def test_eight_concurrent_sales_for_one_customer_leave_one_correct_row(app, chain, backend, caplog):
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    from core.classification.models import CustomerClass
    from core.services.sales import record_sale

    with app.app_context():
        people = ten_spenders()
        recompute()
        who = people[0].id
    gate = threading.Barrier(8)
    errors = []

    def sell(n):
        try:
            with app.app_context():
                shop = store()
                gate.wait()
                record_sale(db.session, shop, {"occurred_at": ago(1, hours=n), "customer": {"id": who},
                                               "total": Decimal("100.00")})
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="core.classification"):
        threads = [threading.Thread(target=sell, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert [r for r in caplog.records if r.name.startswith("core.classification")] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerClass)
                                 .where(CustomerClass.customer_id == who, CustomerClass.scope_id == store().id)) == 1
        row = classes(db.session.get(type(people[0]), who))
        # ¥100 + 8 × ¥100 = ¥900 (the cut) in 9 purchases: high and occasional, as the last sale saw it.
        assert (row["purchases"], row["amount"]) == (9, Decimal("900.00"))
        assert (row["amount_class"], row["frequency_class"], row["final_class"]) == ("high", "occasional", "potential")
        chain_row = classes(db.session.get(type(people[0]), who), "chain")
        assert (chain_row["purchases"], chain_row["amount"]) == (9, Decimal("900.00"))


def test_new_percentages_take_effect_at_the_next_sale(app, chain):
    from core.classification.settings import save_settings

    with app.app_context():
        people = ten_spenders()
        recompute()
        save_settings(db.session, store().id, {"high_percent": 50, "medium_percent": 30})
        db.session.commit()
        buy(people[0], 500, days_ago=1)  # ¥600: inside the top 50% (down to ¥600), not the old top 20%
        db.session.commit()
        assert classes(people[0])["amount_class"] == "high"
        assert (cut().source, cut().high_amount) == ("on_demand", Decimal("600.00"))
