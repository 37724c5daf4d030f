"""Which client address audit rows and the sign-in limiter believe: X-Forwarded-For only as
many hops as STORECRM_TRUSTED_PROXIES says proxies stand in front of the app."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.admin.auth import MAX_FAILURES_PER_IP
from core.extensions import db
from core.models import AuditLog
from tests.admin.conftest import PASSWORD
from tests.conftest import build_chain

PROXY = "10.0.0.5"  # what the app sees as the peer: the proxy (or a client posing as one)


def sign_in(app, username: str, password: str, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    client = app.test_client()
    return client.post("/admin/login", data={"username": username, "password": password}, headers=headers,
                       environ_base={"REMOTE_ADDR": PROXY})


def audited_ips(app, action: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditLog.ip).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(make_app):
    app = make_app()
    build_chain(app)
    assert sign_in(app, "manager", PASSWORD, forwarded="203.0.113.9").status_code == 302
    assert audited_ips(app, "login") == [PROXY]
    # A guesser rotating forged addresses is still counted as the one peer it is.
    for i in range(MAX_FAILURES_PER_IP):
        assert sign_in(app, f"nobody{i}", "guess", forwarded=f"198.51.100.{i}").status_code == 401
    refused = sign_in(app, "manager", PASSWORD, forwarded="198.51.100.250")
    assert refused.status_code == 429
    assert set(audited_ips(app, "login_failed")) == {PROXY}


def test_behind_one_trusted_proxy_the_client_address_it_saw_is_used(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    build_chain(app)
    # The proxy appends the address it saw; what the client wrote before that is not believed.
    assert sign_in(app, "manager", PASSWORD, forwarded="6.6.6.6, 203.0.113.9").status_code == 302
    assert audited_ips(app, "login") == ["203.0.113.9"]
    # One client's failures lock out that client, not everyone behind the same proxy.
    for i in range(MAX_FAILURES_PER_IP):
        assert sign_in(app, f"nobody{i}", "guess", forwarded="198.51.100.7").status_code == 401
    assert sign_in(app, "manager", PASSWORD, forwarded="198.51.100.7").status_code == 429
    assert sign_in(app, "manager", PASSWORD, forwarded="203.0.113.9").status_code == 302


@pytest.mark.parametrize("value", ["two", "-1"])
def test_a_wrong_trusted_proxies_setting_stops_the_app_with_a_clear_message(tmp_path, value, monkeypatch):
    from core.config import ConfigError, load_config
    from tests.conftest import DATA_KEY

    monkeypatch.setenv("STORECRM_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match="STORECRM_TRUSTED_PROXIES"):
        load_config(str(tmp_path), {"SECRET_KEY": "x", "DATA_KEY": DATA_KEY})
