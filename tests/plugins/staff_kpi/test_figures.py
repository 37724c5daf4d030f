"""Each figure on data small enough to compute by hand (the README's definitions), through the API."""

from __future__ import annotations

from decimal import Decimal

from tests.plugins.staff_kpi.conftest import SHANGHAI, backdate_refund, rows_by_user, set_refund_attribution


def october(kpi, token=None, **params):
    query = "&".join(f"{k}={v}" for k, v in {"store": "SH001", "from": "2026-10-01", "period": "month", **params}.items())
    r = kpi.api.get(f"/staff_kpi/report?{query}", token=token or kpi.chain.manager_token)
    assert r.status_code == 200, r.json
    return r.json


def test_every_figure_of_a_month_matches_the_hand_computation(kpi):
    t = kpi.till
    a, b, c = t.customer("13700000001"), t.customer("13700000002"), t.customer("13700000003")
    # alice: 2 lattes (¥28, cost ¥8) + a cake (¥35, cost ¥12) to A; beans (¥1200, cost ¥600) to A
    # 15 days later (a repurchase); an item the catalogue has no cost for (¥100) to B.
    t.sell("alice", "2026-10-05 10:00", [("LATTE-M", 2, "28.00"), ("CAKE-CHOC", 1, "35.00")], a)
    t.sell("alice", "2026-10-20 15:00", [("BEANS-1KG", 1, "1200.00")], a)
    t.sell("alice", "2026-10-25 11:00", [("GIFT-BOX", 1, "100.00")], b)
    # manager: one latte to C, who bought nothing before.
    t.sell("manager", "2026-10-10 09:00", [("LATTE-M", 1, "28.00")], c)
    r = kpi.api.put("/staff_kpi/targets/alice/2026-10", {"store": "SH001", "amount": "2000.00",
                                                        "metrics": {"repurchase_rate": 40}}, token=kpi.chain.manager_token)
    assert r.status_code == 200, r.json
    doc = october(kpi)
    alice = rows_by_user(doc)["alice"]
    assert (doc["first_day"], doc["last_day"]) == ("2026-10-01", "2026-10-31")
    assert alice["sales_amount"] == "1391.00" and alice["net_amount"] == "1391.00"  # 56 + 35 + 1200 + 100
    assert alice["sales_count"] == 3 and alice["units"] == "5"
    assert alice["gross_profit"] == "663.00"  # (91 - 16 - 12) + (1200 - 600); the ¥100 line has no cost
    assert alice["uncosted_amount"] == "100.00"
    assert alice["margin_percent"] == "51.4"  # 663 / 1291
    assert alice["average_ticket"] == "463.67"  # 1391 / 3
    assert alice["customers_served"] == 2 and alice["customers_repurchased"] == 1
    assert alice["repurchase_rate"] == "50.0"  # A came back within 30 days, B did not
    assert alice["new_customers"] == 2
    assert alice["target_amount"] == "2000.00" and alice["attainment_percent"] == "69.6"  # 1391 / 2000
    manager = rows_by_user(doc)["manager"]
    assert (manager["net_amount"], manager["gross_profit"], manager["customers_served"], manager["new_customers"]) == (
        "28.00", "20.00", 1, 1)
    assert doc["totals"]["net_amount"] == "1419.00" and doc["totals"]["customers_served"] == 3
    # The other plugin's metrics, labelled by its definitions; a name without a dot goes under the plugin.
    assert alice["metrics"] == {"stars.avg_rating": "4.5", "stars.on_time": "75.0"}
    assert manager["metrics"] == {"stars.avg_rating": "3"}
    labels = {d["name"]: d["label"] for d in doc["metric_definitions"]}
    assert labels == {"stars.avg_rating": "Average rating", "stars.on_time": "Complaints handled on time"}
    from datetime import date

    assert ("alice", (date(2026, 10, 1), date(2026, 10, 31))) in kpi.stars.periods
    # The commission: 69.6% of target reaches the 0% tier (1%): ¥13.91; manager has no target: 1% of ¥28.
    pay = kpi.api.get("/staff_kpi/commission?store=SH001&month=2026-10", token=kpi.chain.manager_token).json
    assert {r["username"]: (r["rate_percent"], r["payout"]) for r in pay["rows"]} == {
        "alice": ("1", "13.91"), "manager": ("1", "0.28")}
    assert pay["total_payout"] == "14.19"


def test_a_repurchase_counts_only_within_the_store_window(kpi):
    t = kpi.till
    a = t.customer("13700000011")
    t.sell("alice", "2026-10-01 10:00", [("LATTE-M", 1, "28.00")], a)
    t.sell("manager", "2026-11-01 10:00", [("LATTE-M", 1, "28.00")], a)  # 31 days later: outside 30
    assert rows_by_user(october(kpi))["alice"]["repurchase_rate"] == "0.0"
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import update_settings

    with kpi.app.app_context():
        update_settings(db.session, db.session.get(Store, kpi.chain.ids["sh"]), "staff_kpi",
                        {"repurchase_window_days": 31}, actor="test")
        db.session.commit()
    assert rows_by_user(october(kpi))["alice"]["repurchase_rate"] == "100.0"


def test_period_boundaries_follow_the_store_clock(kpi):
    t = kpi.till
    t.sell("alice", "2026-10-31 23:30", [("LATTE-M", 1, "28.00")])  # 15:30 UTC on Oct 31
    t.sell("alice", "2026-11-01 00:10", [("CAKE-CHOC", 1, "35.00")])  # still Oct 31 in UTC
    t.sell("alice", "2026-10-01 00:00", [("CAKE-CHOC", 2, "35.00")])  # Sep 30 16:00 UTC
    assert rows_by_user(october(kpi))["alice"]["net_amount"] == "98.00"  # 28 + 70
    nov_day = october(kpi, **{"from": "2026-11-01", "period": "day"})
    assert (nov_day["first_day"], rows_by_user(nov_day)["alice"]["net_amount"]) == ("2026-11-01", "35.00")
    week = october(kpi, **{"from": "2026-10-29", "period": "week"})  # Mon Oct 26 .. Sun Nov 1
    assert (week["first_day"], week["last_day"]) == ("2026-10-26", "2026-11-01")
    assert rows_by_user(week)["alice"]["net_amount"] == "63.00"
    custom = october(kpi, **{"from": "2026-09-30", "to": "2026-10-01", "period": "custom"})
    assert rows_by_user(custom)["alice"]["net_amount"] == "70.00"


def test_a_refund_lowers_the_original_salesperson_in_the_period_the_setting_names(kpi):
    t = kpi.till
    sale = t.sell("alice", "2026-10-28 12:00", [("LATTE-M", 2, "28.00"), ("CAKE-CHOC", 1, "35.00")])
    refund = t.refund(sale["id"], [("CAKE-CHOC", 1)])  # made by the till, not by alice
    backdate_refund(kpi.app, refund["id"], "2026-11-03 10:00")
    by_refund = rows_by_user(october(kpi))["alice"]
    assert (by_refund["net_amount"], by_refund["refund_amount"]) == ("91.00", "0.00")
    nov = rows_by_user(october(kpi, **{"from": "2026-11-01"}))["alice"]
    assert (nov["net_amount"], nov["refund_amount"], nov["gross_profit"], nov["refund_count"]) == (
        "-35.00", "35.00", "-23.00", 1)
    set_refund_attribution(kpi.app, "sale_period")
    by_sale = rows_by_user(october(kpi))["alice"]
    assert (by_sale["net_amount"], by_sale["gross_profit"], by_sale["units"]) == ("56.00", "40.00", "2")
    assert by_sale["refund_amount"] == "35.00"
    assert rows_by_user(october(kpi, **{"from": "2026-11-01"}))["alice"]["net_amount"] == "0.00"


def test_profiles_created_count_the_customers_a_person_signed_up(kpi):
    from datetime import datetime

    kpi.till.customer("13700000021", token=kpi.chain.staff_token)  # alice, at the counter
    kpi.till.customer("13700000022", token=kpi.chain.staff_token)
    kpi.till.customer("13700000023")  # the till: nobody in particular
    today = datetime.now(SHANGHAI).date()
    doc = october(kpi, **{"from": today.isoformat(), "period": "month"})
    assert rows_by_user(doc)["alice"]["profiles_created"] == 2
    assert doc["totals"]["profiles_created"] == 2
    assert Decimal(doc["totals"]["net_amount"]) == 0
