"""Hostile input stays data; search fields resist SQL injection; the database file (and a
PostgreSQL dump) holds no phone number or email in clear."""

from __future__ import annotations

import glob
import subprocess
from urllib.parse import quote

import pytest

from tests.conftest import Api
from tests.privacy.helpers import find_in_database
from tests.security.conftest import BJ_PERSON

SCRIPT = "<script>alert('x')</script>"
INJECTIONS = ["' OR '1'='1", "'; DROP TABLE customer; --", "%", "_", "\\", "1 OR 1=1", '" OR ""="',
              "' UNION SELECT username, password_hash FROM user_account --", "%' --", "赵%"]


def test_markup_in_names_and_preferences_is_data(app, chain):
    api = Api(app.test_client())
    r = api.post("/customers", {"name": SCRIPT, "preferences": {"note": f"<img src=x onerror=alert(1)>{SCRIPT}"},
                                "tags": ["<b>vip</b>"]}, token=chain.till)
    assert r.status_code == 201, r.json
    got = api.get(f"/customers/{r.json['id']}", token=chain.till)
    assert got.content_type == "application/json"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.json["name"] == SCRIPT and got.json["tags"] == ["<b>vip</b>"]
    assert got.json["preferences"]["note"].startswith("<img")


def test_admin_customer_page_escapes_hostile_names(app, chain):
    api = Api(app.test_client())
    customer_id = api.post("/customers", {"name": SCRIPT}, token=chain.till).json["id"]
    client = app.test_client()
    login = client.post("/admin/login", data={"username": "manager", "password": "correct horse battery"})
    assert login.status_code in (302, 303), login.status_code
    page = client.get(f"/admin/customers/{customer_id}", follow_redirects=True)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("field", ["q", "phone", "tag", "cursor", "store"])
def test_search_fields_resist_sql_injection(app, chain, bj, field):
    api = Api(app.test_client())
    mine = api.post("/customers", {"name": "钱上海", "phone": "13522223333", "tags": ["regular"]}, token=chain.till)
    assert mine.status_code == 201
    for payload in INJECTIONS:
        r = api.get(f"/customers?{field}={quote(payload)}", token=chain.staff_token)
        assert r.status_code in (200, 400, 403, 404), (payload, r.status_code)
        if r.status_code == 200:
            # nothing matches these strings literally: any row back means the input became SQL
            assert r.json["items"] == [], (field, payload)
        assert BJ_PERSON["name"] not in r.get_data(as_text=True)
    # the tables are all still there and whole
    assert [c["name"] for c in api.get("/customers", token=chain.staff_token).json["items"]] == ["钱上海"]
    assert api.get(f"/customers/{bj.customer_id}", token=chain.owner_token).json["name"] == BJ_PERSON["name"]


def test_audit_filters_resist_sql_injection(app, chain):
    api = Api(app.test_client())
    for payload in INJECTIONS:
        for field in ("action", "actor", "target_type", "target_id"):
            r = api.get(f"/audit?{field}={quote(payload)}", token=chain.owner_token)
            assert r.status_code in (200, 400) and (r.status_code == 400 or r.json["items"] == []), (field, payload)


PEOPLE = [("孙一", "13811112222", "sun.yi@example.com"), ("李二", "+86 139-2222-3333", "LI.ER@Example.com")]
CLEAR = ["13811112222", "1381111", "13922223333", "2222-3333", "sun.yi@example.com", "li.er@example.com", "example.com"]


def _make_people(app, chain):
    api = Api(app.test_client())
    for i, (name, phone, email) in enumerate(PEOPLE):
        r = api.post("/customers", {"name": name, "phone": phone, "email": email, "address": "上海市黄浦区中山东一路1号"},
                     token=chain.manager_token)
        assert r.status_code == 201, r.json
        r = api.post("/sales", {"external_id": f"scan-{i}", "customer": {"phone": phone},
                                "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
        assert r.status_code == 201, r.json
    # a till naming an unknown phone creates a profile too
    r = api.post("/sales", {"external_id": "scan-new", "customer": {"phone": "13733334444"},
                            "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
    assert r.status_code == 201, r.json


def test_no_phone_or_email_in_clear_in_the_database(app, chain, backend, tmp_path):
    from core.backup import _libpq_uri, _pg_tool
    from core.extensions import db

    _make_people(app, chain)
    needles = CLEAR + ["13733334444"]
    assert find_in_database(app, needles) == []
    with app.app_context():
        url = db.engine.url
        db.session.remove()
        db.engine.dispose()
    if backend == "sqlite":
        blobs = [open(path, "rb").read() for path in glob.glob(url.database + "*")]  # the file, its WAL, its journal
    else:
        dump = subprocess.run([_pg_tool("pg_dump"), "--data-only", "--dbname", _libpq_uri(url)], capture_output=True,
                              check=True)
        blobs = [dump.stdout]
    assert blobs and any(b"LATTE-M" in blob for blob in blobs), "the scan must see plain data where it is"
    for blob in blobs:
        for needle in needles:
            assert needle.encode() not in blob.lower(), needle


def test_staff_never_see_a_full_phone_or_email_in_the_admin(app, chain):
    api = Api(app.test_client())
    customer_id = api.post("/customers", {"name": "周全", "phone": "13912340000", "email": "zhou.quan@example.com"},
                           token=chain.till).json["id"]
    client = app.test_client()
    login = client.post("/admin/login", data={"username": "alice", "password": "correct horse battery"})
    assert login.status_code in (302, 303), login.status_code
    pages = [client.get("/admin/customers/", follow_redirects=True),
             client.get(f"/admin/customers/{customer_id}", follow_redirects=True)]
    for page in pages:  # the list and the customer's page both show the customer, masked
        assert page.status_code == 200 and "周全" in page.get_data(as_text=True), page.status_code
    for page in pages:
        html = page.get_data(as_text=True)
        for clear in ("13912340000", "+8613912340000", "139 1234 0000", "zhou.quan@example.com"):
            assert clear not in html, clear
        assert "139****0000" in html
