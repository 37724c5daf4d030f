"""Membership in the admin: members list, tier editor, customer panel, dashboard, manual adjustment."""

from __future__ import annotations

from sqlalchemy import select


def login(app, username: str):
    client = app.test_client()
    r = client.post("/admin/login", data={"username": username, "password": "correct horse battery"})
    assert r.status_code in (302, 303), r.data[:300]
    return client


def test_members_ledger_and_customer_panel_show_tier_and_balance(shop):
    cid = shop.till.customer("13600136001", name="王小明")
    shop.till.sell(cid, "3000.00")
    manager = login(shop.app, "manager")
    page = manager.get("/admin/membership/members/").get_data(as_text=True)
    assert "王小明" in page and "3600" in page and "¥3,000.00" in page
    assert "3600" in manager.get("/admin/membership/ledger/").get_data(as_text=True)
    panel = manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert "membership-panel" in panel and "3600" in panel
    # the timeline words the tier change in the reader's language, with its reason (timeline_text)
    assert "Became Silver member" in panel and "Spend reached ¥3000.00" in panel
    dashboard = manager.get("/admin/").get_data(as_text=True)
    assert "¥36.00" in dashboard  # 3,600 points at 100 points = ¥1
    # the tier editor is the owner's
    assert manager.get("/admin/membership/tiers/").status_code == 403
    owner = login(shop.app, "owner")
    tiers = owner.get("/admin/membership/tiers/").get_data(as_text=True)
    assert "¥3,000.00" in tiers and "Priority for events" in tiers  # the perk by its label, not its code


def test_adjusting_points_in_the_admin_needs_a_manager_and_a_reason(shop):
    from core.extensions import db
    from core.models import AuditLog

    cid = shop.till.customer("13600136002")
    alice = login(shop.app, "alice")
    assert alice.get("/admin/membership/adjust/").status_code == 403
    manager = login(shop.app, "manager")
    r = manager.post("/admin/membership/adjust/", data={"customer_id": cid, "points": "30", "reason": ""})
    assert r.status_code == 200 and "reason" in r.get_data(as_text=True).lower()
    r = manager.post("/admin/membership/adjust/", data={"customer_id": cid, "points": "30", "reason": "生日礼遗漏"})
    assert r.status_code == 302
    assert shop.till.member(cid)["points_balance"] == 30
    with shop.app.app_context():
        assert db.session.scalars(select(AuditLog).where(AuditLog.action == "membership_points_adjusted")).one().actor == "manager"


def test_membership_pages_are_gone_where_the_plugin_is_off(app, chain):
    manager = login(app, "manager")
    assert manager.get("/admin/membership/members/").status_code == 404


def test_membership_pages_speak_chinese(shop):
    cid = shop.till.customer("13600136003")
    shop.till.sell(cid, "1000.00")
    manager = login(shop.app, "manager")
    assert manager.post("/admin/language", data={"locale": "zh_CN"}).status_code in (302, 303)
    page = manager.get("/admin/membership/members/").get_data(as_text=True)
    assert "积分" in page and "累计消费" in page
    panel = manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert "1000 积分" in panel and "再消费 ¥2000.00 升级为" in panel
    # the tier's name is the owner's data (seeded in English here), the wording is the reader's
    assert "成为 Ordinary member" in panel and "累计消费达到 ¥1000.00" in panel
    shop.till.sell(cid, "2000.00")
    panel = manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert "优先参加活动" in panel
    assert "升级为 Silver member" in panel and "累计消费达到 ¥3000.00" in panel


def test_the_owner_edits_tiers_and_member_days_in_the_admin(shop):
    owner = login(shop.app, "owner")
    r = owner.post("/admin/membership/tiers/new/", data={
        "code": "platinum", "name": "铂金会员", "threshold": "10000", "points_rate": "2", "birthday_discount_percent": "50",
        "full_price_discount_percent": "10", "perks": '["personal_shopper"]', "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    tiers = shop.api.get("/membership/tiers", token=shop.chain.till).json
    assert (tiers[-1]["code"], tiers[-1]["threshold"], tiers[-1]["perks"]) == ("platinum", "10000.00", ["personal_shopper"])
    r = owner.post("/admin/membership/member-days/new/", data={"name": "周三会员日", "weekday": "2",
                                                               "discount_percent": "5", "points_multiplier": "2", "active": "y"})
    assert r.status_code == 302
    r = owner.post("/admin/membership/member-days/new/", data={"name": "no date", "discount_percent": "5",
                                                               "points_multiplier": "1"})
    assert r.status_code == 200  # refused, the form comes back
    days = shop.api.get("/membership/member-days", token=shop.chain.till).json
    assert [(d["name"], d["weekday"]) for d in days] == [("周三会员日", 2)]


def test_staff_see_only_the_members_of_their_stores(shop):
    from tests.conftest import enable

    enable(shop.app, "BJ001", "membership")
    beijing = shop.till_bj.customer("13600136004", name="北京客人", home_store="BJ001")
    shop.till_bj.sell(beijing, "1000.00")
    shanghai = shop.till.customer("13600136005", name="上海客人", home_store="SH001")
    shop.till.sell(shanghai, "1000.00")
    page = login(shop.app, "manager").get("/admin/membership/members/").get_data(as_text=True)
    assert "上海客人" in page and "北京客人" not in page
    manager = login(shop.app, "manager")
    r = manager.post("/admin/membership/adjust/", data={"customer_id": beijing, "points": "5", "reason": "x"})
    assert r.status_code == 200 and shop.till_bj.member(beijing)["points_balance"] == 1000
    owner = login(shop.app, "owner")
    assert "北京客人" in owner.get("/admin/membership/members/").get_data(as_text=True)
