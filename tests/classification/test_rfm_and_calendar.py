"""RFM scores among window buyers with ties, and windows in the scope's calendar days
(issue: every customer without a recent purchase came out potential_loyalist/loyal/can't lose
them, and the classes moved with the hour of the nightly run)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.extensions import db
from core.models import Sale
from tests.classification.helpers import bulk_sale, classes, customer, recompute, store

SHANGHAI = ZoneInfo("Asia/Shanghai")


def quintile_store():
    from core.classification.settings import save_settings

    save_settings(db.session, store().id, {"rfm_min_population": 1})  # scores by rank, not bands


def test_many_ties_equal_values_equal_scores_and_the_whole_range(app, chain):
    with app.app_context():
        quintile_store()
        # F: 6 buyers with 1 purchase, 2 with 2, 1 with 3, 1 with 5 (four distinct values).
        counts = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]
        people = [customer(f"t{i}") for i in range(len(counts))]
        for who, n in zip(people, counts):
            for k in range(n):
                bulk_sale(who, 100, days_ago=20 + k)
        db.session.commit()
        recompute()
        f = [classes(c)["f_score"] for c in people]
        # Equal values, equal scores; the fewest purchases score 1 and the most score 5;
        # 2 purchases: 6 worse, 2 better -> 1 + 5*6//8 = 4; 3: 8 worse, 1 better -> 1 + 40//9 = 5.
        assert f == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]


def test_all_equal_score_3_and_a_sole_buyer_too(app, chain):
    with app.app_context():
        quintile_store()
        people = [customer(f"e{i}") for i in range(4)]
        for who in people:
            bulk_sale(who, 88, days_ago=30)
        db.session.commit()
        recompute()
        assert {(classes(c)["r_score"], classes(c)["f_score"], classes(c)["m_score"]) for c in people} == {(3, 3, 3)}


def test_one_buyer_in_the_window_is_not_ranked_against_old_customers(app, chain):
    with app.app_context():
        quintile_store()
        recent = customer("recent")
        bulk_sale(recent, 61.95, days_ago=5)
        old = [customer(f"old{i}") for i in range(20)]
        for who in old:
            bulk_sale(who, 5000, days_ago=558)
        db.session.commit()
        recompute()
        sole = classes(recent)
        assert (sole["r_score"], sole["f_score"], sole["m_score"]) == (3, 3, 3)
        assert sole["rfm_segment"] == "potential_loyalist"  # not a champion on ¥61.95
        for who in old:  # 558 days ago: no purchase in the window -> R1 F1 M1, lost
            row = classes(who)
            assert (row["r_score"], row["f_score"], row["m_score"], row["rfm_segment"]) == (1, 1, 1, "lost")


def test_no_buyer_in_the_window_everyone_lost(app, chain):
    with app.app_context():
        quintile_store()
        people = [customer(f"n{i}") for i in range(3)]
        for who in people:
            bulk_sale(who, 100, days_ago=400)
        db.session.commit()
        recompute()
        assert {classes(c)["rfm_segment"] for c in people} == {"lost"}


def test_distinct_values_are_exact_quintiles(app, chain):
    with app.app_context():
        quintile_store()
        people = [customer(f"q{i}") for i in range(10)]
        for i, who in enumerate(people):
            bulk_sale(who, 100 + 10 * i, days_ago=30)
        db.session.commit()
        recompute()
        assert [classes(c)["m_score"] for c in people] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_a_spread_data_set_fills_many_segments(app, chain):
    """Real data spreads over the rule table (issue: 23,502 customers fell in four segments)."""
    import random

    with app.app_context():
        quintile_store()
        rng = random.Random(7)
        for i in range(120):
            who = customer(f"s{i}")
            for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5, 8, 13])):
                bulk_sale(who, rng.choice([20, 45, 80, 150, 300, 900]), days_ago=rng.randint(1, 700))
        db.session.commit()
        recompute()
        from sqlalchemy import func, select

        from core.classification.models import CustomerClass

        segments = dict(db.session.execute(select(CustomerClass.rfm_segment, func.count())
                                           .where(CustomerClass.scope_id == store().id)
                                           .group_by(CustomerClass.rfm_segment)).all())
        assert len(segments) >= 7, segments
        assert segments.get("lost", 0) > 0 and segments.get("champions", 0) > 0


def _at_local(hour: int, minute: int) -> datetime:
    day = datetime.now(SHANGHAI).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))


def test_the_same_data_gives_the_same_classes_at_any_hour_of_the_day(app, chain):
    """Sales on local dates around the window's edge and the recency bands; the recompute run at
    00:05, 02:15 and 23:55 Shanghai time on the same local day gives identical classes."""
    from sqlalchemy import select

    from core.classification.models import CustomerClass

    with app.app_context():
        st = store()
        assert st.timezone == "Asia/Shanghai"
        today = datetime.now(SHANGHAI).date()
        people = []
        for i, (days_back, hour) in enumerate([(364, 0), (364, 23), (365, 12), (59, 1), (60, 22), (61, 3),
                                               (0, 0), (1, 23), (180, 12), (179, 0)]):
            who = customer(f"h{i}")
            day = today - timedelta(days=days_back)
            # Any hour on earlier days; today's sale at 00:01, before the earliest run below.
            moment = datetime(day.year, day.month, day.day, hour if days_back else 0, 1, tzinfo=SHANGHAI)
            db.session.add(Sale(store=st, customer_id=who.id, occurred_at=moment.astimezone(ZoneInfo("UTC")),
                                subtotal=100 + i, adjustment_total=0, total=100 + i, refunded_total=0,
                                status="completed", channel="store"))
            people.append(who)
        db.session.commit()
        results = []
        for hour, minute in ((0, 5), (2, 15), (23, 55)):
            recompute(now=_at_local(hour, minute))
            db.session.expire_all()
            rows = db.session.execute(select(CustomerClass).where(CustomerClass.scope_id == st.id)
                                      .order_by(CustomerClass.customer_id)).scalars().all()
            results.append([(r.customer_id, r.purchases, r.amount_class, r.final_class, r.lifecycle,
                             r.r_score, r.f_score, r.m_score, r.rfm_segment) for r in rows])
        assert results[0] == results[1] == results[2]
        by_id = {row[0]: row for row in results[0]}
        # 364 local days back is inside the 365-date window ending today; 365 back is not.
        assert by_id[people[0].id][1] == 1 and by_id[people[1].id][1] == 1 and by_id[people[2].id][1] == 0


def test_explanations_name_the_timezone(app, chain):
    from core.classification.models import CHAIN_SCOPE
    from core.classification.reasons import explain_scope

    with app.app_context():
        who = customer("tz")
        for k in range(3):
            bulk_sale(who, 300, days_ago=3 + k)
        db.session.commit()
        recompute()
        from core.classification.one_customer import update_customer

        bulk_sale(who, 5, days_ago=1)
        db.session.flush()
        update_customer(db.session, who.id, store().id)
        db.session.commit()
        for scope in (store().id, CHAIN_SCOPE):
            reason = explain_scope(db.session, who.id, scope, "en")["reasons"]["amount_class"]
            assert "Asia/Shanghai" in reason, reason
