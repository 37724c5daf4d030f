"""The counter's membership tasks without internal ids: find the customer to adjust by name or
phone, and a ledger that names the sale's time, its receipt and the operator."""

from __future__ import annotations

import re

import pytest

from tests.plugins.membership.test_figures_agree import exported, login


# Both backends pass (checked); one keeps CI time: the SQL is the members list's, run on both there.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_points_are_adjusted_after_finding_the_customer_by_phone_or_name(shop):
    cid = shop.till.customer("13600138001", name="陈静")
    shop.till.customer("13600138002", name="陈明")
    manager = login(shop.app, "manager")
    manager.post("/admin/language", data={"locale": "zh_CN"})
    form = manager.get("/admin/membership/adjust/").get_data(as_text=True)
    assert 'name="q"' in form and 'name="customer_id"' not in form  # nobody types an id
    by_name = manager.get("/admin/membership/adjust/?q=陈").get_data(as_text=True)
    assert "陈静" in by_name and "陈明" in by_name and "136****8001" in by_name and "13600138001" not in by_name
    by_phone = manager.get("/admin/membership/adjust/?q=136 0013 8001").get_data(as_text=True)
    assert "陈静" in by_phone and "陈明" not in by_phone
    chosen = re.search(r'href="([^"]*customer_id=%d)"' % cid, by_phone).group(1).replace("&amp;", "&")
    page = manager.get(chosen).get_data(as_text=True)
    assert "陈静" in page and 'type="hidden" name="customer_id"' in page
    refused = manager.post("/admin/membership/adjust/", data={"customer_id": cid, "points": "-5", "reason": "更正"})
    assert refused.status_code == 200 and "只有 0 积分可用" in refused.get_data(as_text=True)
    r = manager.post("/admin/membership/adjust/", data={"customer_id": cid, "points": "50", "reason": "生日礼遗漏"})
    assert r.status_code == 302 and shop.till.member(cid)["points_balance"] == 50
    # a customer of another store is not found, even by the full phone
    other = shop.till_bj.customer("13600138009", name="北京客人")
    assert "北京客人" not in manager.get("/admin/membership/adjust/?q=13600138009").get_data(as_text=True)
    assert "没有该客户" in manager.get(f"/admin/membership/adjust/?customer_id={other}").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_ledger_shows_the_sale_time_receipt_and_operator_by_name(shop):
    from datetime import datetime, timedelta, timezone

    cid = shop.till.customer("13600138011", name="周雨")
    when = datetime.now(timezone.utc) - timedelta(days=3)
    shop.till.sell(cid, "1200.00", external_id="R-20260001", occurred_at=when.isoformat())
    manager = login(shop.app, "manager")
    manager.post("/admin/language", data={"locale": "zh_CN"})
    manager.post("/admin/membership/adjust/", data={"customer_id": cid, "points": "20", "reason": "补录"})
    ledger = manager.get("/admin/membership/ledger/?search=周雨").get_data(as_text=True)
    local = when.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert local in ledger and "R-20260001" in ledger and "周雨" in ledger
    assert "获得积分" in ledger and "消费" in ledger and "Manager" in ledger
    rows = exported(manager, "/admin/membership/ledger/export/csv?search=周雨")
    assert {(r["类型"], r["积分"], r["小票"], r["操作人"]) for r in rows} == {
        ("获得积分", "1200", "R-20260001", "收银机"), ("手动调整", "20", "", "Manager")}
