"""The counter's daily tasks in the admin (issue 13), as a store's people see them: customer-page
tiles and spending chart, the last-four-digits lookup, birthdays and win-back, lists with search
and export, a sale entered by hand, import templates, the chain view's new-customer form."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, Customer, Sale, utcnow
from tests.admin.conftest import login, text
from tests.classification.helpers import bulk_sale, customer, recompute, store

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def signed(app, who: str, zh: bool = True):
    client = app.test_client()
    assert login(client, who).status_code == 302
    if zh:
        client.post("/admin/language", data={"locale": "zh_CN"})
    return client


def person(name, phone, home="SH001", **extra):
    from core.services.customers import create_customer

    return create_customer(db.session, store(home), {"name": name, "phone": phone, **extra}, actor="test")


@SQLITE
def test_customer_page_tiles_and_chart_agree_with_the_sales(app, chain):
    with app.app_context():
        who = person("林芳", "13700001111")
        for amount, days in (("100.00", 3), ("300.00", 40), ("200.00", 400)):  # the last: more than 12 months ago
            bulk_sale(who, amount, days_ago=days)
        refunded = bulk_sale(who, "999.00", days_ago=5)
        refunded.status, refunded.refunded_total = "refunded", Decimal("999.00")
        db.session.commit()
        cid = who.id
    page = signed(app, "manager").get(f"/admin/customers/{cid}").get_data(as_text=True)
    tiles = dict(re.findall(r'tile-title">([^<]+)</div><div class="tile-value">([^<]+)<', page))
    assert tiles["累计消费"] == "¥600.00" and tiles["消费次数"] == "3" and tiles["客单价"] == "¥200.00"
    assert re.match(r"\d{4}-\d{2}-\d{2}$", tiles["最近消费"])
    spec = json.loads(re.search(r"id=\"chart-spending\"[^>]*data-chart='([^']+)'", page).group(1).replace("&#34;", '"'))
    assert len(spec["labels"]) == 12 and sum(spec["datasets"][0]["data"]) == 400.0  # the last 12 months only
    assert "chart.umd.min.js" in page and "cdn" not in page.lower()


@SQLITE
def test_last_four_digits_give_a_short_audited_pick_list_of_the_stores_customers(app, chain):
    with app.app_context():
        for i in range(12):
            person(f"同尾{i:02d}", f"13{i:02d}1234567")  # twelve SH001 phones ending in 4567
        person("北京同尾", "13999994567", home="BJ001")
        person("另一个", "13811112222")
        db.session.commit()
    staff = signed(app, "alice")
    page = staff.get("/admin/customers/lookup?q=4567").get_data(as_text=True)
    names = re.findall(r"<strong>(同尾\d\d|北京同尾)</strong>", page)
    assert len(names) == 10 and "北京同尾" not in names  # at most ten, only what the store sees
    assert "尾号 4567 的客户较多" in page and "****4567" in page and "1234567" not in page
    assert "另一个" not in page
    one = staff.get("/admin/customers/lookup?q=2222").get_data(as_text=True)
    assert "另一个" in one and "138****2222" in one  # a pick list even for one match: confirm by name
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "customer_lookup_last4")).all()
        assert [(r.actor, r.details["shown"], r.details["more"]) for r in rows] == [("alice", 10, True), ("alice", 1, False)]


@SQLITE
def test_birthdays_this_month_and_win_back_by_spend(app, chain):
    from core.models import utcnow as now

    today = now().astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
    other_month = today.month % 12 + 1
    with app.app_context():
        person("生日客", "13700002222", birthday=f"{today.month:02d}-{min(today.day, 28):02d}")
        person("下月生日", "13700003333", birthday=f"{other_month:02d}-01")
        person("北京生日", "13700004444", home="BJ001", birthday=f"{today.month:02d}-01")
        big, small, recent = customer("大客户"), customer("小客户"), customer("常客")
        for who, amount in ((big, "900.00"), (small, "50.00")):
            bulk_sale(who, amount, days_ago=300)
            bulk_sale(who, amount, days_ago=100)  # at risk (over 60 days) or churned
        bulk_sale(recent, "80.00", days_ago=200)
        bulk_sale(recent, "80.00", days_ago=3)
        db.session.commit()
        recompute()
        db.session.commit()
    page = text(signed(app, "alice").get("/admin/customers/tasks/"))
    assert "本月生日" in page and "生日客" in page and "下月生日" not in page and "北京生日" not in page
    win_back = page.split("召回客户", 1)[1]
    assert win_back.index("大客户") < win_back.index("小客户") and "常客" not in win_back
    assert "¥1,800.00" in win_back and "流失风险" in win_back


@SQLITE
def test_lists_search_by_phone_and_export_masked_for_staff_and_audited(app, chain):
    with app.app_context():
        person("钱多多", "13755556666")
        person("孙小小", "13755557777")
        db.session.commit()
    staff = signed(app, "alice")
    found = staff.get("/admin/customers/?search=137 5555 6666").get_data(as_text=True)
    assert "钱多多" in found and "孙小小" not in found
    export = staff.get("/admin/customers/export/csv?search=钱")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["姓名"], r["手机号"]) for r in rows] == [("钱多多", "137****6666")]
    manager = signed(app, "manager")
    xlsx = manager.get("/admin/customers/export/xlsx?search=钱")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[2]][:2] == ["钱多多", "13755556666"]  # a manager sees contacts in full
    with app.app_context():
        audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "customers_exported")
                                    .order_by(AuditLog.id)).all()
        assert [(a.actor, a.details["rows"], a.details["masked"]) for a in audits] == [("alice", 1, True),
                                                                                     ("manager", 1, False)]


@SQLITE
def test_a_sale_entered_by_hand_is_checked_and_recorded_like_a_tills(app, chain):
    with app.app_context():
        person("手工单", "13766667777")
        db.session.commit()
    staff = signed(app, "alice")
    form = staff.get("/admin/sales/enter/").get_data(as_text=True)
    assert 'name="sku_0"' in form and "customer_id" not in form
    bad = staff.post("/admin/sales/enter/", data={"sku_0": "LATTE-M", "quantity_0": "0", "action": "record"})
    assert "第 1 行：数量必须大于 0。" in bad.get_data(as_text=True)
    none = staff.post("/admin/sales/enter/", data={"action": "record"})
    assert "请至少添加一件商品。" in none.get_data(as_text=True)
    future = (utcnow() + timedelta(days=5)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    late = staff.post("/admin/sales/enter/", data={"sku_0": "LATTE-M", "quantity_0": "1", "action": "record",
                                                   "occurred_at": future.strftime("%Y-%m-%dT%H:%M")})
    assert "时间无效" in late.get_data(as_text=True)
    data = {"sku_0": "LATTE-M", "quantity_0": "2", "sku_1": "CAKE-CHOC", "quantity_1": "1", "discount_1": "5",
            "customer": "137 6666 7777", "external_id": "纸质-0001", "staff": "alice"}
    check = staff.post("/admin/sales/enter/", data={**data, "action": "check"}).get_data(as_text=True)
    assert "¥86.00" in check and "手工单" in check  # 2 × 28 + 35 − 5
    with app.app_context():
        assert db.session.scalar(select(func.count(Sale.id))) == 0  # a check writes nothing
    r = staff.post("/admin/sales/enter/", data={**data, "action": "record"})
    with app.app_context():
        sale = db.session.scalars(select(Sale)).one()
        assert r.status_code == 302 and r.headers["Location"].endswith(f"/details/?id={sale.id}")
        buyer = db.session.get(Customer, sale.customer_id)
        buyer_id = buyer.id
        assert (sale.total, sale.external_id, sale.staff.username, buyer.name) == (Decimal("86.00"), "纸质-0001",
                                                                                  "alice", "手工单")
    again = staff.post("/admin/sales/enter/", data={**data, "action": "record"})  # the same receipt: not twice
    assert again.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Sale.id))) == 1
    # From the customer page: the person is named, nobody types a phone or an id
    page = staff.get(f"/admin/customers/{buyer_id}").get_data(as_text=True)
    link = re.search(r'id="enter-sale" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    form = staff.get(link).get_data(as_text=True)
    assert "手工单" in form and "137****7777" in form and 'name="customer"' not in form
    r = staff.post(link, data={"sku_0": "LATTE-M", "quantity_0": "1", "action": "record",
                               "customer_id": str(buyer_id)})
    with app.app_context():
        assert r.status_code == 302 and db.session.scalars(select(Sale).order_by(Sale.id.desc())).first().customer_id == buyer_id


@SQLITE
def test_import_templates_have_the_headers_the_importers_read(app, chain):
    from openpyxl import load_workbook

    from core.imports.columns import CUSTOMER_COLUMNS, SALE_COLUMNS, map_headers
    from core.imports.products import HEADERS

    manager = signed(app, "manager")
    page = manager.get("/admin/import/").get_data(as_text=True)
    assert "导入模板下载" in page
    for kind, known in (("customers", CUSTOMER_COLUMNS), ("sales", SALE_COLUMNS)):
        header = next(csv.reader(io.StringIO(manager.get(f"/admin/import/template/{kind}.csv")
                                             .get_data(as_text=True).lstrip("\ufeff"))))
        mapping, unknown = map_headers(header, known)
        assert unknown == [] and set(mapping) == set(known) and all("\u4e00" <= h[0] <= "\u9fff" for h in header)
        sheet = load_workbook(io.BytesIO(manager.get(f"/admin/import/template/{kind}.xlsx").data)).active
        assert [c.value for c in sheet[1]] == header
    products = next(csv.reader(io.StringIO(manager.get("/admin/import/template/products.csv")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    assert set(HEADERS[h] for h in products) == {"sku", "name", "price", "cost", "category", "brand", "barcode"}
    assert signed(app, "alice").get("/admin/import/template/customers.csv").status_code == 403


@SQLITE
def test_the_chain_view_new_customer_form_names_the_home_store(app, chain):
    owner = signed(app, "owner")
    form = owner.get("/admin/customers/new").get_data(as_text=True)
    assert 'name="home_store"' in form and "BJ001" in form and "required" in form
    missing = owner.post("/admin/customers/new", data={"name": "无店", "phone": "13788889999"})
    assert "请选择客户所属门店。" in missing.get_data(as_text=True)
    r = owner.post("/admin/customers/new", data={"name": "北京新客", "phone": "13788889999", "home_store": "BJ001"})
    assert r.status_code == 302
    with app.app_context():
        made = db.session.scalars(select(Customer).where(Customer.name == "北京新客")).one()
        assert made.home_store.code == "BJ001"
