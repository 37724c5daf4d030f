"""Feedback in the admin: the queue by urgency with overdue highlighted, the customer flag
(page, list, segment), charts and dashboard, in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.plugins.feedback.conftest import complain, customer, login, move


def age(app, complaint_id, hours):
    """Make a ticket `hours` older (its deadlines move with it), as if made that long ago."""
    from core.extensions import db
    from plugins.feedback.models import Complaint

    with app.app_context():
        c = db.session.get(Complaint, complaint_id)
        for field in ("created_at", "first_response_due_at", "resolution_due_at"):
            setattr(c, field, getattr(c, field) - timedelta(hours=hours))
        db.session.commit()


def test_the_queue_puts_the_most_urgent_first_and_highlights_the_overdue(shop):
    cid = customer(shop)
    fresh = complain(shop, cid)["id"]
    overdue = complain(shop, cid)["id"]
    soon = complain(shop, cid)["id"]
    done = complain(shop, cid)["id"]
    age(shop.app, overdue, 30)  # 30 h without an answer: past 24 h
    age(shop.app, soon, 22)  # 2 h left
    move(shop, done, "resolved", resolution={"apology": True})
    page = login(shop.app, "manager").get("/admin/feedback/complaints/").get_data(as_text=True)
    rows = re.findall(r'<tr class="complaint-row sla-(\w+) ([\w-]*)" data-id="(\d+)"', page)
    assert [(int(i), sla) for sla, _cls, i in rows] == [(overdue, "overdue"), (soon, "due_soon"), (fresh, "on_track")]
    assert dict((int(i), cls) for _s, cls, i in rows)[overdue] == "table-danger"
    # the API filters by the same SLA states
    api = shop.api
    assert [c["id"] for c in api.get("/feedback/complaints?sla=overdue", token=shop.chain.till).json["items"]] == [overdue]
    assert [c["id"] for c in api.get("/feedback/complaints?sla=met", token=shop.chain.till).json["items"]] == [done]
    assert api.get("/feedback/complaints?sla=late", token=shop.chain.till).status_code == 400
    # charts, dashboard and the Chinese labels
    complain(shop, cid, category="product_quality")
    for rating in (5, 3):
        assert shop.api.post("/feedback/feedback", {"rating": rating, "category": "environment", "text": "ok"},
                             token=shop.chain.till).status_code == 201
    manager = login(shop.app, "manager")
    charts = manager.get("/admin/feedback/charts/").get_data(as_text=True)
    assert "chart.umd.min.js" in charts and "chart-categories" in charts and "Product quality" in charts
    assert "4.0" in charts  # this week's average rating
    dashboard = manager.get("/admin/").get_data(as_text=True)
    assert "Open complaints by SLA" in dashboard and "4.00 / 5" in dashboard
    assert manager.post("/admin/language", data={"locale": "zh_CN"}).status_code in (302, 303)
    queue = manager.get("/admin/feedback/complaints/").get_data(as_text=True)
    assert "投诉工单" in queue and "正常" in queue and "已超时" in queue and "服务态度" in queue and "产品质量" in queue
    assert "service_attitude" not in queue and "product_quality" not in queue and "on_track" not in re.sub(
        r'class="[^"]*"', "", queue)
    entries = manager.get("/admin/feedback/entries/").get_data(as_text=True)
    assert "环境" in entries and "★★★★★" in entries
    modules = manager.get("/admin/modules/").get_data(as_text=True)  # the settings form, labelled
    visible = re.sub(r"<[^>]+>", " ", modules)
    assert "首次响应时限 (小时)" in visible and "first_response_hours" not in visible


def test_a_customer_whose_last_complaint_is_open_is_flagged_on_the_page_list_and_segment(shop):
    from core.extensions import db
    from core.models import Customer, Store
    from core.plugins import HookContext

    flagged = customer(shop, "13800138011", name="张三")
    calm = customer(shop, "13800138012", name="李四")
    manager = login(shop.app, "manager")
    # entered at the counter: the admin's form, then the ticket page
    r = manager.post("/admin/feedback/complaints/new", data={
        "kind": "complaint", "customer_id": str(flagged), "category": "service_attitude", "text": "店员不理人",
        "assignee_id": str(shop.chain.ids["manager"])})
    assert r.status_code == 302 and "/admin/feedback/complaints/" in r.headers["Location"], r.get_data(as_text=True)[:500]
    ticket = manager.get(r.headers["Location"]).get_data(as_text=True)
    assert "店员不理人" in ticket and "On track" in ticket
    r = manager.post("/admin/feedback/complaints/new", data={"kind": "feedback", "customer_id": str(flagged),
                                                           "category": "price", "rating": "2", "text": "有点贵"})
    assert r.status_code == 302
    r = manager.post("/admin/feedback/complaints/new", data={"kind": "complaint", "customer_id": str(flagged),
                                                           "category": "price", "text": ""}, follow_redirects=True)
    assert "Describe the complaint." in r.get_data(as_text=True)
    old = complain(shop, calm)
    move(shop, old["id"], "resolved", resolution={"apology": True})
    page = manager.get(f"/admin/customers/{flagged}").get_data(as_text=True)
    assert "feedback-flag" in page and "Unresolved complaint" in page
    assert "feedback-flag" not in manager.get(f"/admin/customers/{calm}").get_data(as_text=True)
    # the customer list's filter (the core's extra-filter mechanism), found by its label
    import json

    listing = manager.get("/admin/customers/").get_data(as_text=True)
    groups = json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', listing, re.S).group(1))
    (flt,) = groups["Last complaint unresolved"]
    filtered = manager.get(f"/admin/customers/?flt0_{flt['arg']}=1").get_data(as_text=True)
    assert "张三" in filtered and "李四" not in filtered
    unflagged = manager.get(f"/admin/customers/?flt0_{flt['arg']}=0").get_data(as_text=True)
    assert "李四" in unflagged and "张三" not in unflagged
    # the segment filter campaigns uses
    reg = shop.app.extensions["storecrm.plugins"]
    with shop.app.test_request_context():
        (spec,) = [f for found in reg.call_registration("segment_filters") for f in found
                   if f["name"] == "feedback_open_complaint"]
        assert str(spec["label"]) == "Last complaint unresolved"
        store = db.session.get(Store, shop.chain.ids["sh"])
        stmt = spec["apply"](select(Customer.id), {}, HookContext(session=db.session, store=store, registry=reg))
        assert list(db.session.scalars(stmt)) == [flagged]
