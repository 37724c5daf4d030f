"""The manager's whole campaign in the admin, no API: a coupon batch and a campaign from forms
(checked by the API's own rules, errors named by field, nothing half-written), the campaign's
page with its send button, and the report. One run in a real browser, in Chinese."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from tests.admin.conftest import sign_in  # noqa: F401 - the session's Chromium
from tests.plugins.membership.test_admin import login


def _count(app, model) -> int:
    from core.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _loyal_lapsed(shop, n=10):
    ids = [shop.customer(f"忠诚{i}", consent=("email",)) for i in range(n)]
    for cid in ids:
        shop.sell(cid, "120.00", days_ago=90)
        shop.set_class(cid, "loyal")
    return ids


def test_a_bad_coupon_batch_is_refused_with_the_field_named_and_nothing_written(shop):
    from plugins.campaigns.models import CouponBatch

    manager = login(shop.app, "manager")
    r = manager.post("/admin/campaigns/coupons/new/", data={"name": "九折", "kind": "percent", "value": "150"})
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "Value: A percent off is between 0 and 100." in text, re.findall(r'alert-danger[^<]*<', text)
    r = manager.post("/admin/campaigns/coupons/new/", data={"name": "九折", "kind": "percent", "value": "10",
                                                            "valid_until": "2026-13-40"})
    assert "Valid until: Not a valid date." in r.get_data(as_text=True)
    # a date no database can hold as UTC (year 1 on the store's clock): named, not a 500
    r = manager.post("/admin/campaigns/coupons/new/", data={"name": "九折", "kind": "percent", "value": "10",
                                                            "valid_until": "0001-01-01"})
    assert r.status_code == 200 and "Valid until: Must be between 2000-01-01 and 2100-01-01." in r.get_data(as_text=True)
    assert _count(shop.app, CouponBatch) == 0


def test_a_campaign_made_and_sent_from_the_admin_reaches_the_consented_audience_once(shop, mailbox):
    from plugins.campaigns.models import Campaign, Coupon, CouponBatch

    wanted = _loyal_lapsed(shop, 10)
    refused = shop.customer("未同意", consent=())
    shop.sell(refused, "120.00", days_ago=90)
    shop.set_class(refused, "loyal")
    manager = login(shop.app, "manager")
    saved = manager.post("/admin/campaigns/segment-builder/", data={
        "name": "忠诚但60天未购", "final_class": "loyal", "last_purchase_days_min": "60", "action": "save"})
    assert saved.status_code in (302, 303)
    r = manager.post("/admin/campaigns/coupons/new/", data={
        "name": "回归礼 9折", "kind": "percent", "value": "10", "min_spend": "50", "valid_days": "30"})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]
    with shop.app.app_context():
        from core.extensions import db
        from plugins.campaigns.models import Segment

        segment_id = db.session.scalar(select(Segment.id).where(Segment.name == "忠诚但60天未购"))
        batch_id = db.session.scalar(select(CouponBatch.id))
    form = {"name": "老客回归", "kind": "theme", "segment_id": segment_id, "channel": "email",
            "subject_zh": "{{ name }}，好久不见", "body_zh": "{{ name }}，送您{{ coupon_label }}，券码 {{ coupon_code }}。",
            "coupon_batch_id": batch_id, "control_percent": "10", "attribution_days": "30", "budget": "100"}
    # A template that does not render is named, and no campaign is written.
    bad = manager.post("/admin/campaigns/new/", data={**form, "body_zh": "{{ name "})
    assert bad.status_code == 200 and "Text (Chinese):" in bad.get_data(as_text=True)
    assert _count(shop.app, Campaign) == 0
    hostile = manager.post("/admin/campaigns/new/", data={**form, "scheduled_at": "0001-01-01T00:00"})
    assert hostile.status_code == 200 and "Out of range." in hostile.get_data(as_text=True)
    assert _count(shop.app, Campaign) == 0
    made = manager.post("/admin/campaigns/new/", data=form)
    assert made.status_code in (302, 303)
    page_url = made.headers["Location"]
    draft = manager.get(page_url).get_data(as_text=True)
    assert "老客回归" in draft and "Draft" in draft and 'id="send-campaign"' in draft
    sent = manager.post(page_url.rstrip("/") + "/send", follow_redirects=True)
    text = re.sub(r"\s+", " ", sent.get_data(as_text=True))
    # 10 consented: 1 held back as control (10%), 9 e-mails, none to the one without consent
    assert "Sending started: 10 customers with consent, of whom 1 are held back as the control group." in text
    assert len(mailbox.received) == 9
    per_customer = shop.messages()
    assert set(per_customer) <= set(wanted) and set(per_customer.values()) == {1} and refused not in per_customer
    with shop.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Coupon).where(Coupon.customer_id.is_not(None))) == 9
    # sending again from the page does nothing more
    manager.post(page_url.rstrip("/") + "/send")
    assert len(mailbox.received) == 9
    report = manager.get(f"/admin/campaigns/report/?campaign_id={page_url.rstrip('/').rsplit('/', 1)[1]}")
    assert report.status_code == 200 and "Redemption rate" in report.get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_in_chinese_in_a_browser_a_manager_builds_the_segment_and_sends_the_coupon(browser, shop, mailbox):
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    _loyal_lapsed(shop, 4)
    server = make_server("127.0.0.1", 0, shop.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  base_url=f"http://127.0.0.1:{server.server_port}", locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in(page, "manager")
        assert page.request.post("/admin/language", form={"locale": "zh_CN"}).ok
        page.goto("/admin/campaigns/segment-builder/")
        page.fill("input[name=name]", "忠诚但60天未购")
        page.select_option("select[name=final_class]", "loyal")
        page.fill("input[name=last_purchase_days_min]", "60")
        expect(page.locator("#live-count")).to_have_text("4")  # the live count as the filters change
        page.click("button[value=save]")
        page.wait_for_url("**/admin/campaigns/segments/**")
        page.goto("/admin/campaigns/coupons/new/")
        assert page.inner_text("h4") == "新建优惠券批次"
        page.fill("#cb-name", "回归礼")
        page.select_option("#cb-kind", "amount")
        page.fill("#cb-value", "20")
        page.fill("#cb-days", "30")
        page.click("#coupon-batch-form button")
        page.wait_for_url("**/admin/campaigns/coupon-batches/**")
        page.goto("/admin/campaigns/new/")
        assert page.inner_text("h4") == "新建活动"
        page.fill("#c-name", "老客回归")
        page.select_option("#c-coupon", label="回归礼")
        page.fill("#c-control", "25")
        page.click("#campaign-form button")
        page.wait_for_selector("#send-campaign")
        assert page.inner_text("#campaign-title") == "老客回归 · 草稿"
        page.click("#send-campaign")
        page.wait_for_selector("text=已开始发送：已同意接收的顾客 4 位，其中 1 位留作对照组，不发送。")
        assert len(mailbox.received) == 3  # 4 consented, 1 (25%) held back
        assert not errors, errors
    finally:
        context.close()
        server.shutdown()
        thread.join(5)
