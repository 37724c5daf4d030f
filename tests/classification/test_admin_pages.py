"""The classification, analytics and import as people see them in the admin."""

from __future__ import annotations

import io
import re

from core.extensions import db
from tests.admin.conftest import login, text
from tests.classification.helpers import bulk_sale, buy, customer, recompute
from tests.data import CUSTOMERS_ZH

SAMPLE = CUSTOMERS_ZH  # 8 rows as a store exports them: 5 good, 3 rejected


def _signed_in(app, username="manager"):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _shop(app):
    with app.app_context():
        vip = customer("王大客", phone=None)
        for i in range(14):
            buy(vip, 380, days_ago=3 + 7 * i)
        for i in range(9):
            bulk_sale(customer(f"客人{i}"), 50 + i, days_ago=20)
        db.session.commit()
        recompute()
        return vip.id


def test_customer_page_list_filter_and_dashboard_show_the_classes(app, chain):
    vip = _shop(app)
    client = _signed_in(app)
    page = text(client.get(f"/admin/customers/{vip}"))
    assert "Classification" in page
    assert "¥5,320.00 in the last 365 days, top 20% of this store; 14 purchases in the last 365 days: frequent → key customer" in page
    assert "rank 1 of 10 buying customers" in page
    listed = client.get("/admin/customers/?flt0_2=key")
    assert listed.status_code == 200
    body = text(listed)
    assert "王大客" in body and "客人0" not in body
    dashboard = text(client.get("/admin/"))
    assert "Key customers" in dashboard


def test_analytics_page_names_the_forecast_method(app, chain):
    _shop(app)
    client = _signed_in(app)
    page = client.get("/admin/analytics/?period=week")
    assert page.status_code == 200
    body = text(page)
    assert "Sales analytics" in body and "Method:" in body and "Best sellers" in body
    assert _signed_in(app, "alice").get("/admin/analytics/").status_code == 403  # staff: managers only


def test_import_page_takes_the_sample_and_lists_rejected_rows(app, chain):
    client = _signed_in(app)
    with open(SAMPLE, "rb") as f:
        data = {"kind": "customers", "store": "SH001", "file": (io.BytesIO(f.read()), "customers_zh.csv")}
    posted = client.post("/admin/import/", data=data, content_type="multipart/form-data")
    assert posted.status_code == 302  # a background job imports it (in-process here: no Redis)
    page = client.get("/admin/import/")
    row = page.get_data(as_text=True).split('data-import="')[1].split("</tr>")[0]
    assert 'data-status="done"' in row
    assert [int(n) for n in re.findall(r'class="import-(?:created|updated|rejected)">(\d+)', row)] == [5, 0, 3]
    rejects = client.get(re.search(r'href="([^"]+/rejected)"', row).group(1)).get_data(as_text=True)
    assert "not a valid phone number: 12345" in rejects and "already belongs to customer VIP0001" in rejects


def test_classification_settings_page_validates_and_saves(app, chain):
    _shop(app)
    client = _signed_in(app)
    page = text(client.get("/admin/classification/"))
    assert "key customer 1" in page and "potential customer 1" in page and "occasional customer 8" in page
    bad = client.post("/admin/classification/", data={"frequent_min": "3", "occasional_min": "5"})
    assert bad.status_code == 200 and "Must be below frequent_min." in text(bad)
    ok = client.post("/admin/classification/", data={"frequent_min": "20"})
    assert ok.status_code == 302
    assert client.post("/admin/classification/recompute").status_code == 302
    from core.classification.settings import settings_for

    with app.app_context():
        assert settings_for(db.session, chain.ids["sh"])["frequent_min"] == 20
    after = text(client.get("/admin/classification/"))
    assert "key customer 0" in after and "potential customer 2" in after  # 14 purchases < 20: not frequent now
