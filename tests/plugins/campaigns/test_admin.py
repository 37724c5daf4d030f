"""Campaigns in the admin: the segment builder with its live count, campaigns with the report
(charts), coupons, messages, outbox, call list, the customer panel; Chinese labels, no raw codes;
nothing where the plugin is off."""

from __future__ import annotations

import re

from tests.plugins.membership.test_admin import login


def page(client, url) -> str:
    r = client.get(url)
    assert r.status_code == 200, url
    return re.sub(r"\s+", " ", r.get_data(as_text=True))


def _campaign(shop):
    cid = shop.customer("王小明", consent=("sms",))
    shop.sell(cid, "100.00", days_ago=90)
    shop.set_class(cid, "loyal")
    seg = shop.post("/campaigns/segments", {"name": "忠诚客户", "filters": {"final_class": ["loyal"]}}, expect=201).json
    batch = shop.post("/campaigns/coupons", {"name": "满100减20", "kind": "amount", "value": "20.00",
                                             "min_spend": "100.00", "valid_days": 30}, expect=201).json
    camp = shop.post("/campaigns/campaigns", {"name": "中秋回馈", "kind": "holiday", "segment_id": seg["id"],
                                              "channel": "outbox", "body_zh": "{{ name }}：{{ coupon_code }}",
                                              "coupon_batch_id": batch["id"], "control_percent": "0"}, expect=201).json
    shop.post(f"/campaigns/campaigns/{camp['id']}/send", {}, expect=202)
    return cid, camp["id"]


def test_builder_count_report_lists_and_panel_in_english(shop):
    cid, camp = _campaign(shop)
    manager = login(shop.app, "manager")
    builder = manager.get("/admin/campaigns/segment-builder/")
    assert builder.status_code == 200 and "Customers matching now" in builder.get_data(as_text=True)
    live = manager.post("/admin/campaigns/segment-builder/count", data={"final_class": "loyal"})
    assert live.json == {"count": 1}
    assert manager.post("/admin/campaigns/segment-builder/count", data={"final_class": "key"}).json == {"count": 0}
    saved = manager.post("/admin/campaigns/segment-builder/", data={"name": "Lapsed", "final_class": "loyal",
                                                                  "last_purchase_days_min": "60", "action": "save"})
    assert saved.status_code in (302, 303)
    assert "Lapsed" in manager.get("/admin/campaigns/segments/").get_data(as_text=True)

    listing = page(manager, "/admin/campaigns/campaigns/")
    assert "中秋回馈" in listing and "Holiday" in listing and "Outbox (send by hand)" in listing
    assert '<td class="col-status"> Sent </td>' in listing
    report = manager.get(f"/admin/campaigns/report/?campaign_id={camp}").get_data(as_text=True)
    assert "storecrm-chart" in report and "chart.umd.min.js" in report and "Redemption rate" in report
    assert "cdn" not in report.lower()
    coupons = manager.get("/admin/campaigns/coupon-batches/").get_data(as_text=True)
    assert "满100减20" in coupons and "Amount off" in coupons
    assert "Service notice" not in manager.get("/admin/campaigns/messages/").get_data(as_text=True)
    assert "王小明" in manager.get("/admin/campaigns/outbox/").get_data(as_text=True)
    panel = manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert "Messages and coupons" in panel and "¥20.00 off (min. spend ¥100.00)" in panel
    assert manager.get("/admin/campaigns/call-tasks/").status_code == 200
    dashboard = page(manager, "/admin/")
    assert "Messages sent" in dashboard and "Coupons redeemed" in dashboard


def test_pages_speak_chinese_and_are_gone_where_campaigns_is_off(shop, app):
    cid, camp = _campaign(shop)
    manager = login(shop.app, "manager")
    assert manager.post("/admin/language", data={"locale": "zh_CN"}).status_code in (302, 303)
    listing = page(manager, "/admin/campaigns/campaigns/")
    assert "节日活动" in listing and '<td class="col-status"> 已发送 </td>' in listing
    report = manager.get(f"/admin/campaigns/report/?campaign_id={camp}").get_data(as_text=True)
    assert "核销率" in report and "对照组" in report
    panel = manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert "消息与优惠券" in panel and "立减¥20.00（满¥100.00可用）" in panel
    from tests.conftest import build_chain  # noqa: F401 - the chain exists already

    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import disable_plugin

    with app.app_context():
        disable_plugin(db.session, db.session.get(Store, shop.chain.ids["sh"]), "campaigns", actor="test")
        db.session.commit()
    assert manager.get("/admin/campaigns/campaigns/").status_code == 404
    assert shop.get(f"/campaigns/campaigns/{camp}").status_code == 404
    assert "消息与优惠券" not in manager.get(f"/admin/customers/{cid}").get_data(as_text=True)
