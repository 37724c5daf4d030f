"""The admin's session cookie: HttpOnly, SameSite=Lax, Secure when the shop runs behind HTTPS."""

from __future__ import annotations

from core.config import load_config


def _login_cookie(app) -> str:
    client = app.test_client()
    r = client.post("/admin/login", data={"username": "owner", "password": "correct horse battery"})
    assert r.status_code in (302, 303), r.status_code
    cookies = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(app.config["SESSION_COOKIE_NAME"] + "=")]
    assert cookies
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(app, chain):
    cookie = _login_cookie(app)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on a shop's back-office PC still signs in


def test_session_cookie_is_secure_when_configured(make_app, monkeypatch, tmp_path):
    from tests.conftest import build_chain

    monkeypatch.setenv("STORECRM_SECURE_COOKIES", "1")
    assert load_config(str(tmp_path), {"SECRET_KEY": "s", "DATA_KEY": "x" * 43 + "="})["SESSION_COOKIE_SECURE"] is True
    app = make_app(SESSION_COOKIE_SECURE=True)
    build_chain(app)
    assert "Secure" in _login_cookie(app)
