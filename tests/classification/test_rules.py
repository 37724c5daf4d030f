"""Each classification rule of domain.md at its boundary, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.extensions import db
from core.models import Activity, utcnow
from tests.classification.helpers import buy, bulk_sale, classes, customer, recompute, store


def test_exactly_12_purchases_is_frequent_11_is_occasional_2_is_rare(app, chain):
    with app.app_context():
        twelve, eleven, three, two = (customer(n) for n in ("twelve", "eleven", "three", "two"))
        for i in range(12):
            buy(twelve, 10, days_ago=10 + i)
        buy(twelve, 10, days_ago=400)  # outside the 365-day window: does not count
        for i in range(11):
            buy(eleven, 10, days_ago=10 + i)
        for i in range(3):
            buy(three, 10, days_ago=10 + i)
        for i in range(2):
            buy(two, 10, days_ago=10 + i)
        assert classes(twelve)["purchases"] == 12
        assert classes(twelve)["frequency_class"] == "frequent"
        assert classes(eleven)["frequency_class"] == "occasional"
        assert classes(three)["frequency_class"] == "occasional"
        assert classes(two)["frequency_class"] == "rare"
        recompute()
        assert [classes(c)["frequency_class"] for c in (twelve, eleven, three, two)] == [
            "frequent", "occasional", "occasional", "rare"]


def test_exactly_the_20_percent_cut_is_high_and_the_next_30_percent_medium(app, chain):
    with app.app_context():
        people = [customer(f"c{i}") for i in range(10)]
        for i, who in enumerate(people):  # c9 spends most
            bulk_sale(who, 100 * (i + 1), days_ago=5)
        db.session.commit()
        recompute()
        got = [classes(c)["amount_class"] for c in reversed(people)]
        # 10 buyers: ranks 1-2 are the top 20%, ranks 3-5 the next 30%, the rest low.
        assert got == ["high", "high", "medium", "medium", "medium", "low", "low", "low", "low", "low"]
        assert classes(people[8])["amount_rank"] == 2 and classes(people[8])["buyers"] == 10


def test_ties_at_the_cut_go_to_the_higher_class(app, chain):
    with app.app_context():
        people = [customer(f"c{i}") for i in range(10)]
        spends = [1000, 800, 800, 500, 400, 300, 300, 100, 100, 100]  # ranks 2 and 3 tie at the 20% cut
        for who, spend in zip(people, spends):
            bulk_sale(who, spend, days_ago=5)
        db.session.commit()
        recompute()
        got = [classes(c)["amount_class"] for c in people]
        assert got[:3] == ["high", "high", "high"]  # 800 and 800 share rank 2: both high
        assert got[3:5] == ["medium", "medium"]
        # 300 and 300 share rank 6: beyond the first 5, both low.
        assert got[5:] == ["low"] * 5


def test_a_refund_moves_the_class_back_at_once(app, chain):
    from core.services.sales import refund_sale

    with app.app_context():
        regular = customer("regular")
        sales = [buy(regular, 30, days_ago=3 + i) for i in range(12)]
        assert classes(regular)["final_class"] == "key"  # the only buyer: top of the store, 12 purchases
        refund_sale(db.session, sales[0], {"reason": "returned"})
        db.session.commit()
        now = classes(regular)
        assert now["purchases"] == 11 and now["frequency_class"] == "occasional"
        assert now["amount"] == Decimal("330.00")
        assert now["final_class"] == "potential"
        titles = db.session.scalars(select(Activity.title).where(Activity.customer_id == regular.id,
                                                                Activity.kind == "class_change")).all()
        assert "became key customer" in titles and "became potential customer" in titles


def test_partly_refunded_sale_counts_at_its_net_amount(app, chain):
    with app.app_context():
        who = customer("partial")
        sale = buy(who, None, days_ago=2, lines=[{"sku": "LATTE-M", "quantity": 2}, {"sku": "CAKE-CHOC", "quantity": 1}])
        from core.services.sales import refund_sale

        refund_sale(db.session, sale, {"lines": [{"sku": "CAKE-CHOC", "quantity": 1}]})
        db.session.commit()
        assert classes(who)["amount"] == Decimal("56.00") and classes(who)["purchases"] == 1


def test_bought_before_but_not_in_the_window_is_low_rare_occasional_and_never_is_prospect(app, chain):
    with app.app_context():
        lapsed, never, active = customer("lapsed"), customer("never"), customer("active")
        bulk_sale(lapsed, 5000, days_ago=400)
        bulk_sale(active, 10, days_ago=3)
        db.session.commit()
        recompute()
        row = classes(lapsed)
        assert (row["amount_class"], row["frequency_class"], row["final_class"]) == ("low", "rare", "occasional")
        assert row["lifecycle"] == "churned"
        assert classes(never) is None  # no row: a prospect
        assert classes(active)["amount_class"] == "high"  # the only buyer in the window


def test_lifecycle_days_at_their_boundaries(app, chain):
    with app.app_context():
        cases = {}
        for name, last in [("d60", 60), ("d61", 61), ("d179", 179), ("d180", 180)]:
            who = customer(name)
            bulk_sale(who, 10, days_ago=365)  # an old customer: not new, gap from first to last purchase
            bulk_sale(who, 10, days_ago=last)
            cases[name] = who
        newbie, old_new = customer("newbie"), customer("first 91 days ago")
        bulk_sale(newbie, 10, days_ago=30)
        bulk_sale(old_new, 10, days_ago=91)
        bulk_sale(old_new, 10, days_ago=20)
        db.session.commit()
        recompute()
        got = {name: classes(who)["lifecycle"] for name, who in cases.items()}
        # d60 has a usual gap of 305 days, so only the 60-day rule can apply.
        assert got == {"d60": "active", "d61": "at_risk", "d179": "at_risk", "d180": "churned"}
        assert classes(newbie)["lifecycle"] == "new"
        assert classes(old_new)["lifecycle"] == "active"


def test_more_than_twice_the_usual_gap_is_at_risk(app, chain):
    with app.app_context():
        steady, late = customer("steady"), customer("late")
        for who, last in ((steady, 19), (late, 21)):
            for k in range(11):  # every 10 days, the last one `last` days ago
                bulk_sale(who, 10, days_ago=last + 10 * k)
        db.session.commit()
        recompute()
        # Usual gap 10 days: 19 days without a purchase is fine, 21 is more than twice the gap.
        assert classes(steady)["lifecycle"] == "active"
        assert classes(late)["lifecycle"] == "at_risk"


def test_rfm_small_store_uses_fixed_recency_bands_and_named_segments(app, chain):
    with app.app_context():
        best, sleeper = customer("best"), customer("sleeper")
        for i in range(20):
            bulk_sale(best, 100, days_ago=1 + i)
        bulk_sale(sleeper, 5, days_ago=301)
        for i in range(3):
            bulk_sale(customer(f"middle {i}"), 50, days_ago=100)
        db.session.commit()
        recompute()
        top = classes(best)
        assert (top["r_score"], top["f_score"], top["m_score"], top["rfm_segment"]) == (5, 5, 5, "champions")
        low = classes(sleeper)  # the lowest spend of five: M1
        assert low["r_score"] == 1 and low["rfm_segment"] == "lost"  # over 300 days: band 1


def test_rfm_quintiles_by_rank_when_the_store_is_large_enough(app, chain):
    from core.classification.settings import save_settings

    with app.app_context():
        save_settings(db.session, store().id, {"rfm_min_population": 5})
        people = [customer(f"r{i}") for i in range(10)]
        for i, who in enumerate(people):
            bulk_sale(who, 100, days_ago=10 * (i + 1))  # r0 the most recent
        db.session.commit()
        recompute()
        assert [classes(c)["r_score"] for c in people] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        # Everyone has one purchase and the same spend: equal values, equal scores, in the middle
        # (not all champions, as when ties took the best score).
        assert {classes(c)["f_score"] for c in people} == {3}
        assert {classes(c)["m_score"] for c in people} == {3}


def test_chain_scope_adds_up_every_store(app, chain):
    with app.app_context():
        both = customer("both stores")
        for i in range(6):
            buy(both, 50, days_ago=2 + i, at="SH001")
            buy(both, 50, days_ago=2 + i, at="BJ001")
        assert classes(both, "SH001")["purchases"] == 6
        assert classes(both, "BJ001")["frequency_class"] == "occasional"
        chain_row = classes(both, "chain")
        assert chain_row["purchases"] == 12 and chain_row["frequency_class"] == "frequent"
        assert chain_row["amount"] == Decimal("600.00")


def test_nightly_recompute_writes_class_changes_to_the_timeline(app, chain):
    with app.app_context():
        who = customer("fading")
        bulk_sale(who, 10, days_ago=200)
        bulk_sale(who, 10, days_ago=50)
        db.session.commit()
        recompute()
        assert classes(who)["lifecycle"] == "active"
        recompute(now=utcnow() + timedelta(days=15))  # 65 days without a purchase
        assert classes(who)["lifecycle"] == "at_risk"
        rows = db.session.scalars(select(Activity).where(Activity.customer_id == who.id)).all()
        assert [(a.title, a.kind, a.store_id, a.data["from"], a.data["to"]) for a in rows] == [
            ("became at-risk", "class_change", store().id, "active", "at_risk")]
        recompute(now=utcnow() + timedelta(days=15))  # nothing changed: nothing new on the timeline
        assert db.session.query(Activity).filter_by(customer_id=who.id).count() == 1


def test_absolute_thresholds_from_the_store_settings(app, chain):
    from core.classification.settings import save_settings

    with app.app_context():
        save_settings(db.session, store().id, {"amount_mode": "absolute", "high_min_amount": "1000",
                                               "medium_min_amount": "300"})
        a, b, c = customer("a"), customer("b"), customer("c")
        bulk_sale(a, 1000, days_ago=3)
        bulk_sale(b, "999.99", days_ago=3)
        bulk_sale(c, 299, days_ago=3)
        db.session.commit()
        recompute()
        assert [classes(x)["amount_class"] for x in (a, b, c)] == ["high", "medium", "low"]
        # The other store keeps the percentile default.
        assert classes(a, "chain")["amount_class"] == "high"


def test_incremental_update_agrees_with_the_nightly_recompute(app, chain):
    with app.app_context():
        people = [customer(f"p{i}") for i in range(8)]
        for i, who in enumerate(people):
            for k in range(i % 4 + 1):
                bulk_sale(who, 40 * (i + 1), days_ago=5 + 13 * k + i)
        db.session.commit()
        recompute()
        buy(people[0], 2000, days_ago=1)  # jumps to the top
        after_sale = classes(people[0])
        recompute()
        assert classes(people[0]) == after_sale


def test_cli_recomputes_and_explains(app, chain):
    from core.cli import cli

    with app.app_context():
        who = customer("cli")
        for i in range(3):
            bulk_sale(who, 100, days_ago=2 + i)
        db.session.commit()
        who_id = who.id
    runner = app.test_cli_runner()
    done = runner.invoke(cli, ["classify", "recompute"], catch_exceptions=False)
    assert "SH001: 1 customers who bought, 1 in the window" in done.output and "chain:" in done.output
    shown = runner.invoke(cli, ["classify", "show", str(who_id)], catch_exceptions=False)
    assert "[SH001] ¥300.00 in the last 365 days, top 20% of this store; 3 purchases" in shown.output
    assert "lifecycle: 2 days since the last purchase" in shown.output


def test_lifecycle_from_the_stores_own_purchase_gaps(app, chain):
    from core.classification.settings import save_settings

    with app.app_context():
        save_settings(db.session, store().id, {"lifecycle_mode": "percentile", "at_risk_percentile": 40,
                                               "churned_percentile": 80})
        # Ten regulars with gaps of 1..10 days between their two purchases long ago: the 40th
        # percentile gap is 4 days, the 80th is 8.
        for gap in range(1, 11):
            who = customer(f"gap {gap}")
            bulk_sale(who, 10, days_ago=300 + gap)
            bulk_sale(who, 10, days_ago=300)
        recent, late, gone = customer("3 days"), customer("5 days"), customer("9 days")
        for who, days in ((recent, 3), (late, 5), (gone, 9)):  # one purchase each: no gap of their own
            bulk_sale(who, 10, days_ago=days)
        db.session.commit()
        recompute()
        from core.classification.models import ClassificationRun

        run = db.session.get(ClassificationRun, store().id)
        assert (run.at_risk_gap_days, run.churned_gap_days) == (4, 8)
        # Beyond 4 days at risk, beyond 8 churned (instead of 60 and 180 days).
        assert [classes(w)["lifecycle"] for w in (recent, late, gone)] == ["new", "at_risk", "churned"]


def test_rfm_segment_table_first_match_wins_for_every_score(app):
    from itertools import product

    from sqlalchemy import literal

    from core.classification.compute import segment_case
    from core.classification.rules import RFM_SEGMENTS

    def expected(r, f, m):
        for name, rs, fs, ms in RFM_SEGMENTS:
            if rs[0] <= r <= rs[1] and fs[0] <= f <= fs[1] and ms[0] <= m <= ms[1]:
                return name
        return "others"

    combos = list(product(range(1, 6), repeat=3))
    with app.app_context():
        got = db.session.execute(select(*[segment_case(literal(r), literal(f), literal(m)) for r, f, m in combos])).one()
    assert list(got) == [expected(*c) for c in combos]
    spot = dict(zip(combos, got))
    assert spot[(5, 5, 5)] == "champions" and spot[(1, 3, 4)] == "cant_lose_them" and spot[(1, 5, 5)] == "at_risk"
    assert spot[(2, 3, 4)] == "loyal" and spot[(3, 1, 1)] == "about_to_sleep" and spot[(1, 1, 1)] == "lost"
    assert spot[(4, 1, 4)] == "promising" and spot[(5, 1, 1)] == "new" and spot[(2, 5, 3)] == "need_attention"
