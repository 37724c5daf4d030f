"""The admin through Flask's test client: sign-in, rate limit, CSRF, roles and store scoping,
masking and audited unmasking, escaping."""

from __future__ import annotations

import pytest

from sqlalchemy import func, select

from tests.admin.conftest import PASSWORD, login, make_customer, text

# The admin's HTTP layer (sign-in, CSRF, roles, masking, escaping): one backend. Store scoping's
# SQL runs on both in tests/security/test_cross_store.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_pages_need_a_sign_in_and_come_back_after_it(admin_env):
    client = admin_env.app.test_client()
    response = client.get("/admin/customers/")
    assert response.status_code == 302
    assert "/admin/login?next=" in response.headers["Location"]
    response = client.post(response.headers["Location"], data={"username": "manager", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/customers/")
    assert client.get("/admin/customers/").status_code == 200


def test_wrong_password_is_refused_and_sign_out_ends_the_session(admin_env):
    client = admin_env.app.test_client()
    response = login(client, "alice", "wrong password")
    assert response.status_code == 401
    assert "Wrong username or password" in text(response)
    assert login(client, "alice").status_code == 302
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout")
    assert client.get("/admin/").status_code == 302


def test_login_is_rate_limited_per_username(admin_env):
    client = admin_env.app.test_client()
    for _ in range(5):
        assert login(client, "alice", "guess").status_code == 401
    # Even the right password is refused now: a guesser cannot tell when they hit it.
    response = login(client, "alice")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in text(response)
    # Another person at the same counter is not locked out.
    assert login(admin_env.app.test_client(), "manager").status_code == 302


def test_never_redirects_off_site_after_login(admin_env):
    client = admin_env.app.test_client()
    response = client.post("/admin/login?next=https://evil.example/x", data={"username": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"


def test_admin_forms_reject_a_missing_csrf_token(make_app):
    from tests.admin.conftest import stamps_plugin
    from tests.conftest import build_chain

    app = make_app(plugins=[stamps_plugin()[0]], WTF_CSRF_ENABLED=True)
    build_chain(app)
    customer_id = make_customer(app, "SH001", "张伟", "13800138000")
    client = app.test_client()
    assert client.post("/admin/login", data={"username": "manager", "password": PASSWORD}).status_code == 400
    page = client.get("/admin/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/admin/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token}).status_code == 302
    response = client.post(f"/admin/customers/{customer_id}/note", data={"note": "forged"})
    assert response.status_code == 400
    page = client.get(f"/admin/customers/{customer_id}")
    assert "forged" not in text(page)
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(f"/admin/customers/{customer_id}/note", data={"note": "called back", "csrf_token": token})
    assert "called back" in text(client.get(f"/admin/customers/{customer_id}"))


def test_staff_see_only_their_stores_customers_with_contact_details_masked(admin_env, signed_in):
    sh = make_customer(admin_env.app, "SH001", "张伟", "13800138000", email="zhangwei@example.cn")
    bj = make_customer(admin_env.app, "BJ001", "李娜", "13900139000")
    alice = signed_in("alice")
    listing = text(alice.get("/admin/customers/"))
    assert "张伟" in listing and "李娜" not in listing
    assert "138****8000" in listing and "13800138000" not in listing
    page = alice.get(f"/admin/customers/{sh}")
    assert "138****8000" in text(page) and "z***@example.cn" in text(page)
    assert "13800138000" not in page.get_data(as_text=True) and "zhangwei@" not in page.get_data(as_text=True)
    assert "Show contact details" not in text(page)
    assert alice.post(f"/admin/customers/{sh}/reveal").status_code == 403
    assert alice.get(f"/admin/customers/{bj}").status_code == 404
    # The counter lookup does not reach into another store's customers either.
    assert alice.get("/admin/customers/lookup?q=139 0013 9000").status_code == 200
    owner = signed_in("owner")
    assert {"张伟", "李娜"} <= set(text(owner.get("/admin/customers/")).split())


def test_managers_unmask_contact_details_and_each_unmasking_is_audited(admin_env, signed_in):
    from core.extensions import db
    from core.models import AuditLog

    customer_id = make_customer(admin_env.app, "SH001", "张伟", "13800138000", email="zhangwei@example.cn")
    manager = signed_in("manager")
    page = manager.get(f"/admin/customers/{customer_id}")
    assert "138****8000" in text(page) and "Show contact details" in text(page)
    revealed = manager.post(f"/admin/customers/{customer_id}/reveal")
    assert "13800138000" in text(revealed) and "zhangwei@example.cn" in text(revealed)
    manager.post(f"/admin/customers/{customer_id}/reveal")
    with admin_env.app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "unmask")).all()
        assert [(r.actor, r.target_type, r.target_id) for r in rows] == [("manager", "customer", str(customer_id))] * 2


def test_counter_lookup_finds_a_phone_typed_any_way_and_shows_preferences(admin_env, signed_in):
    customer_id = make_customer(admin_env.app, "SH001", "王芳", "+86 139-0123-4567",
                                preferences={"coffee": "hot, no sugar", "seat": "by the window"})
    alice = signed_in("alice")
    for typed in ("13901234567", "139 0123 4567", "+86 139-0123-4567", "8613901234567"):
        response = alice.get("/admin/customers/lookup", query_string={"q": typed})
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/customers/{customer_id}")
    page = text(alice.get(f"/admin/customers/{customer_id}"))
    assert "coffee hot, no sugar" in page and "seat by the window" in page
    # By name, one match opens the page at once; several list them.
    assert alice.get("/admin/customers/lookup?q=王芳").headers["Location"].endswith(f"/{customer_id}")
    make_customer(admin_env.app, "SH001", "王芳芳", "13700137000")
    listed = text(alice.get("/admin/customers/lookup?q=王芳"))
    assert "2 customers found" in listed and "139****4567" in listed
    missing = text(alice.get("/admin/customers/lookup?q=13512345678"))
    assert "No customer with the phone number 135****5678" in missing


def test_a_customer_named_script_is_shown_escaped(admin_env, signed_in):
    name = "<script>alert('x')</script>"
    customer_id = make_customer(admin_env.app, "SH001", name, "13800138000", preferences={"<b>": "<img src=x onerror=alert(1)>"})
    manager = signed_in("manager")
    for path in (f"/admin/customers/{customer_id}", "/admin/customers/", "/admin/customers/lookup?q=script"):
        html = manager.get(path, follow_redirects=True).get_data(as_text=True)
        assert "<script>alert(" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html


def test_quick_actions_record_a_visit_a_note_preferences_and_consent(admin_env, signed_in):
    from core.extensions import db
    from core.models import Visit

    customer_id = make_customer(admin_env.app, "SH001", "张伟", "13800138000")
    alice = signed_in("alice")
    alice.post(f"/admin/customers/{customer_id}/visit", data={"purpose": "tasting", "duration_minutes": "15"})
    alice.post(f"/admin/customers/{customer_id}/note", data={"note": "asked for oat milk", "kind": "call"})
    alice.post(f"/admin/customers/{customer_id}/preferences", data={"preferences": "milk：oat\nsize: L"})
    alice.post(f"/admin/customers/{customer_id}/consent", data={"channel": "sms", "granted": "1"})
    alice.post(f"/admin/customers/{customer_id}/consent", data={"channel": "sms", "granted": "0"})
    page = text(alice.get(f"/admin/customers/{customer_id}"))
    assert "Visit tasting" in page and "Call asked for oat milk" in page
    assert "milk oat" in page and "size L" in page
    assert "SMS withdrawn" in page and "History (2)" in page
    with admin_env.app.app_context():
        visit = db.session.scalars(select(Visit)).one()
        assert (visit.store.code, visit.staff.username, visit.duration_minutes) == ("SH001", "alice", 15)


def test_staff_cannot_reach_owner_pages_or_pick_another_store(admin_env, signed_in):
    alice = signed_in("alice")
    for path in ("/admin/users/", "/admin/tokens/", "/admin/stores/", "/admin/audit/", "/admin/modules/"):
        assert alice.get(path).status_code == 403, path
    assert "Staff" not in [a.strip() for a in text(alice.get("/admin/")).split("·")]
    assert alice.post("/admin/switch-store", data={"store": str(admin_env.chain.ids["bj"])}).status_code == 403
    assert alice.post("/admin/switch-store", data={"store": "chain"}).status_code == 403


def test_sales_list_is_scoped_to_the_current_store(admin_env, signed_in):
    chain = admin_env.chain
    client = admin_env.app.test_client()
    for token, ext in ((chain.till, "sh-1"), (chain.till_bj, "bj-1")):
        client.post("/api/v1/sales", json={"external_id": ext, "lines": [{"sku": "BEANS-1KG", "quantity": 1}]},
                    headers={"Authorization": f"Bearer {token}"})
    alice = signed_in("alice")
    listing = text(alice.get("/admin/sales/"))
    assert "sh-1" in listing and "bj-1" not in listing
    owner = signed_in("owner")
    assert {"sh-1", "bj-1"} <= set(text(owner.get("/admin/sales/")).split())
    owner.post("/admin/switch-store", data={"store": str(chain.ids["bj"])})
    listing = text(owner.get("/admin/sales/"))
    assert "bj-1" in listing and "sh-1" not in listing
    sale_page = text(owner.get("/admin/sales/details/?id=1", follow_redirects=True))
    assert "Not found" in sale_page or "sh-1" not in sale_page  # another store's sale by URL: nothing


def test_creating_an_api_token_shows_it_once(admin_env, signed_in):
    from core.extensions import db
    from core.models import ApiToken

    owner = signed_in("owner")
    response = owner.post("/admin/tokens/new/", data={"name": "till 2", "store": str(admin_env.chain.ids["sh"])},
                          follow_redirects=True)
    raw = response.get_data(as_text=True).split('<code id="new-token">', 1)[1].split("<", 1)[0]
    assert raw.startswith("scrm_")
    assert raw not in owner.get("/admin/tokens/").get_data(as_text=True)
    with admin_env.app.app_context():
        assert db.session.scalar(select(func.count()).where(ApiToken.token_hash == ApiToken.hash(raw))) == 1
    api_answer = admin_env.app.test_client().get("/api/v1/customers", headers={"Authorization": f"Bearer {raw}"})
    assert api_answer.status_code == 200


def test_profile_edit_explains_bad_values_and_keeps_contact_details_from_staff(admin_env, signed_in):
    from core.extensions import db
    from core.models import AuditLog, Customer

    customer_id = make_customer(admin_env.app, "SH001", "张伟", "13800138000")
    make_customer(admin_env.app, "SH001", "李娜", "13900139000")
    alice = signed_in("alice")
    form = alice.get(f"/admin/customers/{customer_id}/edit").get_data(as_text=True)
    assert 'name="occupation"' in form and 'name="phone"' not in form and "13800138000" not in form
    alice.post(f"/admin/customers/{customer_id}/edit", data={"name": "张伟", "occupation": "教师", "tags": "常客, VIP",
                                                             "home_store": "SH001", "birthday": "03-12"})
    page = text(alice.get(f"/admin/customers/{customer_id}"))
    assert "教师" in page and "VIP" in page and "03-12" in page and "--03-12" not in page and "138****8000" in page
    manager = signed_in("manager")
    assert 'name="phone" type="tel" value="13800138000"' in manager.get(f"/admin/customers/{customer_id}/edit").get_data(as_text=True)
    bad = manager.post(f"/admin/customers/{customer_id}/edit", data={"name": "张伟", "phone": "12345", "birthday": "1985-02-30"})
    assert 'data-field="phone">Not a valid phone number: 12345.' in bad.get_data(as_text=True) or \
        'data-field="phone">Not a phone number: 12345.' in bad.get_data(as_text=True)
    taken = manager.post(f"/admin/customers/{customer_id}/edit", data={"name": "张伟", "phone": "139 0013 9000",
                                                                       "home_store": "SH001"})
    assert 'data-field="phone">Already in use.' in taken.get_data(as_text=True)
    manager.post(f"/admin/customers/{customer_id}/edit", data={"name": "张伟", "phone": "137 0013 7000", "home_store": "SH001"})
    with admin_env.app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert customer.phone == "+8613700137000" and customer.occupation is None
        assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "unmask")) == 1  # showing the form
