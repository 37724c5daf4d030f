"""Customer endpoints: create, search by phone however it is typed, masking per role with an
audit trail, PATCH with consents, consent history, and cursor pages stable under inserts."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, Consent, Event


def test_create_and_read_masked_for_tills_and_staff_full_for_managers_with_an_audit_row(app, api, chain):
    r = api.post("/customers", {"name": "王芳", "phone": "138 0013 8000", "email": "Wang.Fang@example.com",
                                "address": "上海市黄浦区南京东路 1 号", "birthday": "--03-12", "tags": ["vip"],
                                "preferences": {"coffee": "热，不加糖"}}, token=chain.till)
    assert r.status_code == 201, r.json
    created = r.json
    assert created["phone"] == "138****8000" and created["email"] == "w***@example.com"
    assert created["address"] == "***" and created["home_store"] == "SH001"
    assert created["birthday"] == "--03-12" and created["tags"] == ["vip"]
    for token in (chain.till, chain.staff_token):
        seen = api.get(f"/customers/{created['id']}", token=token).json
        assert seen["phone"] == "138****8000" and seen["name"] == "王芳"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "unmask")) == 0
    full = api.get(f"/customers/{created['id']}", token=chain.manager_token).json
    assert full["phone"] == "+8613800138000" and full["email"] == "wang.fang@example.com"
    assert full["address"] == "上海市黄浦区南京东路 1 号"
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "unmask")).one()
        assert (row.actor, row.target_type, row.target_id) == ("manager", "customer", str(created["id"]))
    # a list reveals only when asked, and then audits it too
    listed = api.get("/customers", token=chain.manager_token).json["items"]
    assert listed[0]["phone"] == "138****8000"
    listed = api.get("/customers?reveal=true", token=chain.manager_token).json["items"]
    assert listed[0]["phone"] == "+8613800138000"
    assert api.get("/customers?reveal=true", token=chain.staff_token).json["items"][0]["phone"] == "138****8000"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "unmask")) == 2


def test_search_by_phone_however_it_is_typed(api, chain):
    wang = api.post("/customers", {"name": "王芳", "phone": "13800138000"}, token=chain.till).json
    api.post("/customers", {"name": "李雷", "phone": "13900139000"}, token=chain.till)
    for typed in ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "8613800138000",
                  "+8613800138000", "(+86) 138.0013.8000", " 13800138000 ", "+86-138-0013-8000"]:
        r = api.get("/customers?phone=" + quote(typed), token=chain.till)
        assert r.status_code == 200, (typed, r.json)
        assert [c["id"] for c in r.json["items"]] == [wang["id"]], typed


def test_search_by_name_tag_and_a_bad_phone(api, chain):
    wang = api.post("/customers", {"name": "王芳", "phone": "13800138000", "tags": ["vip"]}, token=chain.till).json
    li = api.post("/customers", {"name": "李雷", "phone": "13900139000", "code": "M-0002"}, token=chain.till).json
    assert [c["id"] for c in api.get("/customers?q=" + quote("王"), token=chain.till).json["items"]] == [wang["id"]]
    assert [c["id"] for c in api.get("/customers?q=M-0002", token=chain.till).json["items"]] == [li["id"]]
    assert [c["id"] for c in api.get("/customers?tag=vip", token=chain.till).json["items"]] == [wang["id"]]
    assert api.get("/customers?q=" + quote("%"), token=chain.till).json["items"] == []
    assert api.get("/customers?phone=13700137000", token=chain.till).json["items"] == []
    r = api.get("/customers?phone=12", token=chain.till)
    assert r.status_code == 400 and "phone" in r.json["error"]["fields"]
    # a Beijing till finds Shanghai's customer only by the full phone (masked, not linked, no
    # profile), never by name; the owner finds them everywhere
    found = api.get("/customers?phone=138-0013-8000", token=chain.till_bj).json["items"]
    assert [(c["id"], c["phone"], c["linked"], c["tags"]) for c in found] == [(wang["id"], "138****8000", False, [])]
    assert api.get("/customers?q=" + quote("王"), token=chain.till_bj).json["items"] == []
    assert len(api.get("/customers", token=chain.owner_token).json["items"]) == 2


def test_patch_with_consents_writes_history_and_the_customer_updated_event(app, api, chain):
    wang = api.post("/customers", {"name": "王芳", "phone": "13800138000"}, token=chain.till).json
    r = api.patch(f"/customers/{wang['id']}", {"occupation": "教师", "hobbies": ["瑜伽"],
                                               "consents": [{"channel": "sms", "granted": True, "source": "counter"},
                                                            {"channel": "email", "granted": False}]},
                  token=chain.staff_token)
    assert r.status_code == 200, r.json
    assert r.json["occupation"] == "教师" and r.json["hobbies"] == ["瑜伽"]
    assert {c["channel"]: c["granted"] for c in r.json["consents"]} == {"email": False, "sms": True}
    assert api.get(f"/customers/{wang['id']}", token=chain.till).json["occupation"] == "教师"
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.name == "customer_updated")).one()
        assert set(event.payload["changes"]) == {"occupation", "hobbies"}
    # unchanged values are no event
    api.patch(f"/customers/{wang['id']}", {"occupation": "教师"}, token=chain.staff_token)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.name == "customer_updated")) == 1


def test_consent_history_latest_stands(app, api, chain):
    wang = api.post("/customers", {"name": "王芳", "phone": "13800138000"}, token=chain.till).json
    r = api.post(f"/customers/{wang['id']}/consents", {"channel": "wechat", "granted": True, "source": "qr",
                                                       "proof": "scan 2026-11-22"}, token=chain.till)
    assert r.status_code == 201, r.json
    assert [(c["channel"], c["granted"], c["source"]) for c in r.json["consents"]] == [("wechat", True, "qr")]
    r = api.post(f"/customers/{wang['id']}/consents", {"channel": "wechat", "granted": False}, token=chain.till)
    assert [(c["channel"], c["granted"]) for c in r.json["consents"]] == [("wechat", False)]
    with app.app_context():
        rows = db.session.scalars(select(Consent).where(Consent.customer_id == wang["id"]).order_by(Consent.id)).all()
        assert [(c.granted, c.source, c.proof) for c in rows] == [(True, "qr", "scan 2026-11-22"), (False, "api", None)]
    r = api.post(f"/customers/{wang['id']}/consents", {"channel": "pigeon", "granted": True}, token=chain.till)
    assert r.status_code == 400 and "channel" in r.json["error"]["fields"]


def test_cursor_pages_are_stable_under_inserts(api, chain):
    ids = [api.post("/customers", {"name": f"客户{i}"}, token=chain.till).json["id"] for i in range(5)]
    seen = []
    r = api.get("/customers?limit=2", token=chain.till).json
    seen += [c["id"] for c in r["items"]]
    # customers arriving while a till pages through do not shift or repeat what it reads
    late = api.post("/customers", {"name": "新来的"}, token=chain.till).json["id"]
    while r["next_cursor"]:
        r = api.get(f"/customers?limit=2&cursor={r['next_cursor']}", token=chain.till).json
        seen += [c["id"] for c in r["items"]]
        if len(seen) == 4:
            api.post("/customers", {"name": "又一个"}, token=chain.till)
    assert seen[:5] == ids and late in seen and len(seen) == len(set(seen)) == 7
    r = api.get("/customers?cursor=garbage!", token=chain.till)
    assert r.status_code == 400 and "cursor" in r.json["error"]["fields"]


def test_a_page_of_customers_carries_each_ones_standing_consents(api, chain):
    wang = api.post("/customers", {"name": "王芳", "consents": [{"channel": "sms", "granted": True}]}, token=chain.till).json
    li = api.post("/customers", {"name": "李雷", "consents": [{"channel": "email", "granted": True}]}, token=chain.till).json
    api.post(f"/customers/{li['id']}/consents", {"channel": "email", "granted": False}, token=chain.till)
    api.post(f"/customers/{li['id']}/consents", {"channel": "wechat", "granted": True}, token=chain.till)
    page = {c["id"]: {x["channel"]: x["granted"] for x in c["consents"]}
            for c in api.get("/customers", token=chain.till).json["items"]}
    assert page == {wang["id"]: {"sms": True}, li["id"]: {"email": False, "wechat": True}}
