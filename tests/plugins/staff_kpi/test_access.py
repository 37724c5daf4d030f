"""Who sees whose figures: staff only their own (API and admin), managers their stores, owners
all; a username of another store is unknown; off in a store means 404."""

from __future__ import annotations

from tests.plugins.staff_kpi.conftest import rows_by_user


def login(app, username: str):
    client = app.test_client()
    r = client.post("/admin/login", data={"username": username, "password": "correct horse battery"})
    assert r.status_code in (302, 303)
    return client


def seed_sales(kpi):
    kpi.till.sell("alice", "2026-10-05 10:00", [("LATTE-M", 1, "28.00")])
    kpi.till.sell("manager", "2026-10-06 10:00", [("BEANS-1KG", 1, "1200.00")])


def test_staff_see_only_their_own_figures_in_the_api(kpi):
    seed_sales(kpi)
    r = kpi.api.get("/staff_kpi/report?from=2026-10-01&period=month", token=kpi.chain.staff_token)
    assert r.status_code == 200
    assert [row["username"] for row in r.json["rows"]] == ["alice"]
    assert r.json["rows"][0]["net_amount"] == "28.00" and r.json["totals"]["net_amount"] == "28.00"
    assert "1200" not in r.get_data(as_text=True)
    for path in ("/staff_kpi/leaderboard?month=2026-10", "/staff_kpi/commission?month=2026-10"):
        assert kpi.api.get(path, token=kpi.chain.staff_token).status_code == 403
    assert kpi.api.put("/staff_kpi/targets/alice/2026-10", {"amount": "1"}, token=kpi.chain.staff_token).status_code == 403
    # a till's token acts at staff level but is not a person
    assert kpi.api.get("/staff_kpi/report?from=2026-10-01", token=kpi.chain.till).status_code == 403


def test_managers_see_their_store_and_not_others_and_owners_see_all(kpi):
    seed_sales(kpi)
    doc = kpi.api.get("/staff_kpi/report?from=2026-10-01&period=month", token=kpi.chain.manager_token).json
    assert set(rows_by_user(doc)) == {"alice", "manager"}
    board = kpi.api.get("/staff_kpi/leaderboard?month=2026-10", token=kpi.chain.manager_token).json
    assert [(r["rank"], r["username"], r["net_amount"]) for r in board["rows"]] == [(1, "manager", "1200.00"), (2, "alice", "28.00")]
    assert kpi.api.get("/staff_kpi/report?store=BJ001&from=2026-10-01", token=kpi.chain.manager_token).status_code in (403,)
    # bob works in BJ001: unknown in SH001
    r = kpi.api.put("/staff_kpi/targets/bob/2026-10", {"store": "SH001", "amount": "100"}, token=kpi.chain.manager_token)
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    r = kpi.api.put("/staff_kpi/targets/alice/2026-13", {"store": "SH001", "amount": "100"}, token=kpi.chain.manager_token)
    assert r.status_code == 400 and "month" in r.json["error"]["fields"]
    r = kpi.api.put("/staff_kpi/targets/alice/2026-10", {"store": "SH001", "metrics": {"charm": 3}},
                    token=kpi.chain.manager_token)
    assert r.status_code == 422 and "metrics.charm" in r.json["error"]["fields"]
    owner = kpi.api.get("/staff_kpi/report?store=SH001&from=2026-10-01&period=month", token=kpi.chain.owner_token).json
    assert set(rows_by_user(owner)) == {"alice", "manager"}
    # off in BJ001: 404 even for the owner
    assert kpi.api.get("/staff_kpi/report?store=BJ001&from=2026-10-01", token=kpi.chain.owner_token).status_code == 404


def test_commission_exports_as_csv_and_xlsx(kpi):
    import io

    from openpyxl import load_workbook

    seed_sales(kpi)
    kpi.api.put("/staff_kpi/targets/manager/2026-10", {"store": "SH001", "amount": "1000"}, token=kpi.chain.manager_token)
    r = kpi.api.get("/staff_kpi/commission/export?store=SH001&month=2026-10&format=csv", token=kpi.chain.manager_token)
    text = r.get_data().decode("utf-8-sig")
    assert r.status_code == 200 and "manager,Manager,Net sales,1200.00,1000.00,120.0,3,36.00" in text  # ≥100%: 3%
    r = kpi.api.get("/staff_kpi/commission/export?store=SH001&month=2026-10&format=xlsx", token=kpi.chain.manager_token)
    sheet = load_workbook(io.BytesIO(r.get_data())).active
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["manager"][7] == 36.0 and rows["alice"][7] == 0.28


def test_my_performance_in_the_admin_shows_only_the_signed_in_person(kpi):
    seed_sales(kpi)
    alice = login(kpi.app, "alice")
    page = alice.get("/admin/staff_kpi/mine/?period=month&from=2026-10-01").get_data(as_text=True)
    assert 'data-username="alice"' in page and "¥28.00" in page
    assert 'data-username="manager"' not in page and "1,200.00" not in page and "Manager" not in page.split("navbar")[-1]
    for path in ("/admin/staff_kpi/report/", "/admin/staff_kpi/leaderboard/", "/admin/staff_kpi/targets/"):
        assert alice.get(path).status_code == 403
    manager = login(kpi.app, "manager")
    report = manager.get("/admin/staff_kpi/report/?period=month&from=2026-10-01").get_data(as_text=True)
    assert 'data-username="alice"' in report and 'data-username="manager"' in report and "¥1,228.00" in report
    assert "Average rating" in report and "storecrm-chart" in report
    # a manager's target editor saves targets; the leaderboard then shows attainment
    r = manager.post("/admin/staff_kpi/targets/", data={"month": "2026-10", f"amount_{kpi.chain.ids['alice']}": "56",
                                                         f"repurchase_{kpi.chain.ids['alice']}": "30"})
    assert r.status_code == 302
    board = manager.get("/admin/staff_kpi/leaderboard/?month=2026-10").get_data(as_text=True)
    assert "50.0%" in board and "¥0.28" in board
    bad = manager.post("/admin/staff_kpi/targets/", data={"month": "2026-10", f"amount_{kpi.chain.ids['alice']}": "lots"})
    assert bad.status_code == 200 and "Not saved" in bad.get_data(as_text=True)


def test_pages_are_gone_where_staff_kpi_is_off(kpi):
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import disable_plugin

    with kpi.app.app_context():
        disable_plugin(db.session, db.session.get(Store, kpi.chain.ids["sh"]), "staff_kpi", actor="test")
        db.session.commit()
    manager = login(kpi.app, "manager")
    assert manager.get("/admin/staff_kpi/report/").status_code == 404
    assert kpi.api.get("/staff_kpi/report?from=2026-10-01", token=kpi.chain.manager_token).status_code == 404


def test_dashboard_widgets_show_a_manager_the_team_and_staff_only_themselves(kpi):
    from datetime import datetime, timedelta

    from tests.plugins.staff_kpi.conftest import SHANGHAI

    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).strftime("%Y-%m-%d 12:00")
    kpi.till.sell("alice", yesterday, [("LATTE-M", 1, "28.00")])
    kpi.till.sell("manager", yesterday, [("BEANS-1KG", 1, "1200.00")])
    manager = login(kpi.app, "manager").get("/admin/").get_data(as_text=True)
    assert "Net sales by salesperson" in manager and "Top salesperson" in manager and "¥1,200.00" in manager
    alice = login(kpi.app, "alice").get("/admin/").get_data(as_text=True)
    assert "My net sales" in alice and "¥28.00" in alice
    assert "Net sales by salesperson" not in alice and "Top salesperson" not in alice


def test_the_settings_form_labels_every_choice(kpi):
    manager = login(kpi.app, "manager")  # works in SH001 only: the modules page is SH001's
    page = manager.get("/admin/modules/").get_data(as_text=True)
    for label in ("Refunds lower the figures", "In the period of the refund", "In the period of the original sale",
                  "Repurchase window (days)", "Commission tiers", "Gross profit"):
        assert label in page, label
