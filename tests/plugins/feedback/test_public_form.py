"""The public feedback form: no login, Chinese first, phone-sized, CSRF-protected,
rate-limited per address and store, a honeypot for bots, hostile markup kept as data."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.plugins.feedback.conftest import login


def entries(app):
    from core.extensions import db
    from plugins.feedback.models import FeedbackEntry

    with app.app_context():
        return [(e.channel, e.rating, e.category, e.text) for e in
                db.session.scalars(select(FeedbackEntry).order_by(FeedbackEntry.id))]


def post(client, data, ip="203.0.113.7", **headers):
    return client.post("/feedback/SH001", data=data, environ_base={"REMOTE_ADDR": ip}, headers=headers)


def test_the_form_speaks_chinese_first_fits_a_phone_and_keeps_hostile_markup_as_data(shop):
    client = shop.app.test_client()
    page = client.get("/feedback/SH001").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and 'name="viewport"' in page and "上海南京路店" in page
    assert "服务态度" in page and "提交" in page
    assert "Service attitude" in client.get("/feedback/SH001?lang=en").get_data(as_text=True)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = post(client, {"rating": "2", "category": "service_attitude", "text": hostile})
    assert r.status_code == 200 and "谢谢" in r.get_data(as_text=True)
    assert entries(shop.app) == [("website", 2, "service_attitude", hostile)]
    listing = login(shop.app, "manager").get("/admin/feedback/entries/").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in listing and "<script>alert(" not in listing
    assert "<img src=x" not in listing
    # a bot filling the honeypot is thanked and nothing is kept
    r = post(client, {"rating": "5", "category": "other", "text": "buy now", "website": "http://spam"})
    assert r.status_code == 200 and len(entries(shop.app)) == 1
    # the admin prints a QR code of the store's form
    page = login(shop.app, "manager").get("/admin/feedback/qr/").get_data(as_text=True)
    assert "<svg" in page and "/feedback/SH001" in page


MALFORMED = [
    ({"category": "price"}, "rating"),
    ({"rating": "6", "category": "price"}, "rating"),
    ({"rating": "0", "category": "price"}, "rating"),
    ({"rating": "abc", "category": "price"}, "rating"),
    ({"rating": "-1", "category": "price"}, "rating"),
    ({"rating": "4", "category": "drop table"}, "category"),
    ({"rating": "4", "category": "price", "text": "长" * 2001}, "text"),
]


def test_malformed_input_is_refused_with_the_form_again_naming_the_field_and_nothing_kept(shop):
    client = shop.app.test_client()
    for data, field in MALFORMED:
        r = post(client, data)
        assert r.status_code == 400, data
        page = r.get_data(as_text=True)
        error = re.search(r'name="' + field + r'".*?<div class="error">([^<]+)</div>', page, re.S)
        assert error and error.group(1).strip(), (data, field)
    assert entries(shop.app) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rating=st.text(max_size=6), category=st.text(max_size=20), text=st.text(max_size=300))
def test_any_input_is_kept_as_given_or_refused_never_an_error(shop, rating, category, text):
    # fuzzing: any text (NUL and other control characters included) → 200 (kept) or 400, never 500
    client = shop.app.test_client()
    before = len(entries(shop.app))
    r = post(client, {"rating": rating, "category": category, "text": text}, ip=f"198.51.100.{before % 250}")
    valid = rating.strip() in {"1", "2", "3", "4", "5"} and category in (
        "product_quality", "service_attitude", "environment", "price", "other")
    assert r.status_code == (200 if valid else 400), r.get_data(as_text=True)[:300]
    after = entries(shop.app)
    assert len(after) == before + (1 if valid else 0)
    if valid:
        assert "\x00" not in after[-1][3]


def test_the_form_is_rate_limited_per_address_and_forged_forwarding_headers_do_not_help(shop):
    client = shop.app.test_client()
    for i in range(5):
        assert post(client, {"rating": "4", "category": "other", "text": f"#{i}"}).status_code == 200
    r = post(client, {"rating": "4", "category": "other"})
    assert r.status_code == 429 and "稍后" in r.get_data(as_text=True)
    # without STORECRM_TRUSTED_PROXIES a client's X-Forwarded-For is its own word: ignored
    assert post(client, {"rating": "4", "category": "other"}, **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    # another address is its own bucket
    assert post(client, {"rating": "4", "category": "other"}, ip="203.0.113.8").status_code == 200
    assert len(entries(shop.app)) == 6


def test_csrf_trusted_proxies_and_stores_without_the_plugin(make_app, backend):
    """The HTTP layer (one backend is enough): the CSRF token is required; behind a trusted proxy
    the client's address counts, not the proxy's; no form where feedback is off."""
    from tests.conftest import build_chain, enable

    if backend != "sqlite":
        pytest.skip("the HTTP layer; the limits' queries run on both backends above")
    app = make_app(WTF_CSRF_ENABLED=True, TRUSTED_PROXIES=1)
    build_chain(app)
    enable(app, "SH001", "feedback")
    client = app.test_client()
    assert client.get("/feedback/BJ001").status_code == 404
    assert client.get("/feedback/NOPE").status_code == 404
    assert post(client, {"rating": "5", "category": "other"}).status_code == 400
    page = client.get("/feedback/SH001").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    proxy = {"ip": "10.0.0.1"}
    for _ in range(5):
        r = post(client, {"rating": "4", "category": "other", "csrf_token": token}, **proxy,
                 **{"X-Forwarded-For": "203.0.113.50"})
        assert r.status_code == 200
    # the same proxy, another customer behind it: not limited by the first one's entries
    assert post(client, {"rating": "4", "category": "other", "csrf_token": token}, **proxy,
                **{"X-Forwarded-For": "203.0.113.51"}).status_code == 200
    assert post(client, {"rating": "4", "category": "other", "csrf_token": token}, **proxy,
                **{"X-Forwarded-For": "203.0.113.50"}).status_code == 429
    assert len(entries(app)) == 6
