"""Admin sessions end on the server (a replayed cookie signs no one in), security headers on
every response, the request-body limit (413 in the error shape) and one role table for the
admin and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.extensions import db
from core.models import User, UserSession, utcnow
from tests.conftest import Api

# Sessions, headers and body limits are the HTTP layer: one backend.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PASSWORD = "correct horse battery"


def signed_in(app, username="manager"):
    client = app.test_client()
    response = client.post("/admin/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 200
    return client


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str) -> int:
    """A fresh browser presenting an old session cookie: the admin's answer."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/admin/").status_code


def test_logout_ends_the_session_on_the_server(app, chain):
    client = signed_in(app)
    stolen = cookie_of(client)
    assert replay(app, stolen) == 200
    client.post("/admin/logout")
    assert replay(app, stolen) == 302  # back to the sign-in page


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_a_password_change_or_deactivation_ends_every_session(app, chain, change):
    phone, desk = signed_in(app), signed_in(app)
    cookies = [cookie_of(phone), cookie_of(desk)]
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "manager")).one()
        if change == "password":
            user.set_password("a brand new secret")
            # the app's own hash (the test chain's users have a cheap one, for speed)
            assert user.password_hash.startswith("scrypt:") and user.check_password("a brand new secret")
        else:
            user.active = False
        db.session.commit()
        user.active = True  # even a user switched back on keeps none of the old sessions
        db.session.commit()
    assert [replay(app, c) for c in cookies] == [302, 302]



def test_idle_sessions_expire_after_the_setting(make_app):
    from tests.conftest import build_chain

    app = make_app(SESSION_IDLE_MINUTES=30)
    build_chain(app)
    client = signed_in(app)
    cookie = cookie_of(client)
    def last_seen(minutes_ago):
        with app.app_context():
            db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago)))
            db.session.commit()

    last_seen(29)
    assert replay(app, cookie) == 200  # used again within 30 minutes: still on, and seen now
    last_seen(31)
    assert replay(app, cookie) == 302


def test_security_headers_on_admin_api_and_static_responses(app, chain):
    client = signed_in(app)
    for path in ("/admin/", "/admin/login", "/api/v1/openapi.json", "/static/storecrm/admin.js"):
        headers = client.get(path).headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
    csp = client.get("/admin/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    nonces = {client.get("/admin/").headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
              for _ in range(2)}
    assert len(nonces) == 2  # a new one per response
    page = client.get("/admin/").get_data(as_text=True)
    assert "onchange=" not in page and "/static/storecrm/admin.js" in page


def test_a_body_over_the_limit_is_a_413_in_the_error_shape(make_app):
    from tests.conftest import build_chain

    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    chain = build_chain(app)
    api = Api(app.test_client())
    lines = [{"sku": "LATTE-M", "quantity": 1, "unit_price": "28.00"}] * 400
    r = api.post("/sales/batch", {"sales": [{"lines": lines}] * 3}, token=chain.till)
    assert r.status_code == 413
    assert r.json["error"]["code"] == "too_large" and "65536 bytes" in r.json["error"]["message"]


def test_the_default_limit_takes_a_1000_sale_batch(app, chain):
    api = Api(app.test_client())
    sale = {"external_id": "x", "occurred_at": "2026-11-22T10:15:00+08:00", "customer": {"phone": "13800138000"},
            "lines": [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}] * 3,
            "payments": [{"method": "wechat_pay", "amount": "168.00", "data": {"transaction_id": "4200" * 8}}]}
    import json

    body = {"sales": [dict(sale, external_id=f"till-3-{i:06d}") for i in range(1000)]}
    assert len(json.dumps(body)) < app.config["MAX_CONTENT_LENGTH"] / 2


def test_one_role_table_drives_the_admin_and_the_api(app, chain):
    from core.roles import ROLE_FOR

    assert ROLE_FOR["modules.toggle"] == "owner" and ROLE_FOR["modules.settings.change"] == "owner"
    manager = signed_in(app)
    assert manager.post("/admin/modules/toggle", data={"plugin": "membership", "enabled": "1"}).status_code == 403
    assert manager.post("/admin/modules/membership/settings", data={}).status_code == 403
    api = Api(app.test_client())
    r = api.put("/stores/SH001/plugins/membership", {"enabled": True}, token=chain.manager_token)
    assert r.status_code == 403
    owner = signed_in(app, "owner")
    owner.post("/admin/switch-store", data={"store": str(chain.ids["sh"])})
    assert owner.post("/admin/modules/toggle", data={"plugin": "membership", "enabled": "1"}).status_code == 302
    listed = {p["name"]: p for p in api.get("/stores/SH001/plugins", token=chain.manager_token).json}
    assert listed["membership"]["enabled"] is True
