"""A customer of one branch at another branch's counter, in a real browser (domain.md,
"Privacy and access"): the full phone finds them masked, "serve here" links them, the till
earns them points, and the staff of both stores see them masked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.admin.conftest import make_customer, sign_in
from tests.conftest import Api, enable

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_a_beijing_member_is_served_and_earns_points_in_shanghai(page, admin_env, browser, live):
    app, chain = admin_env.app, admin_env.chain
    enable(app, "SH001", "membership")
    enable(app, "BJ001", "membership")
    api = Api(app.test_client())
    member = make_customer(app, "BJ001", "赵北京", "13698765432", email="zhao@example.com")
    # Last week in Beijing (points from a sale years ago would have expired by now).
    last_week = (datetime.now(timezone.utc) - timedelta(days=7)).isoformat()
    r = api.post("/sales", {"customer": {"id": member}, "occurred_at": last_week,
                            "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "1000.00"}]}, token=chain.till_bj)
    assert r.json["effects"]["membership"]["points_earned"] == 1000
    make_customer(app, "BJ001", "钱北京", "13611110000")

    # Shanghai's cashier: a new profile for a Beijing customer's phone is never a dead end
    sign_in(page, "alice")
    page.goto("/admin/customers/new")
    page.fill("#name", "钱")
    page.fill("#phone", "136 1111 0000")
    page.click("form.customer-form button[type=submit]")
    notice = page.inner_text("#already-in-chain")
    assert "already a customer of the chain: serve them here" in notice and "钱北京" not in page.content()

    # the counter box: the full phone in another spelling finds the chain's customer, masked
    page.fill("#counter-search", "+86 136-9876-5432")
    page.press("#counter-search", "Enter")
    card = page.inner_text("#chain-customer")
    assert "赵北京" in card and "136****5432" in card and "already a customer of the chain" in card
    assert "13698765432" not in page.content() and "zhao@example.com" not in page.content()
    page.click("#serve-here")
    page.wait_for_url(f"**/admin/customers/{member}")
    assert page.inner_text("#customer-phone").strip() == "136****5432"
    assert "1000 points" in page.inner_text(".membership-panel")

    # Shanghai's till sells to them: they earn points here, on the chain's one account
    r = api.post("/sales", {"customer": {"id": member}, "lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
    assert r.status_code == 201 and r.json["effects"]["membership"]["points_earned"] == 28
    page.reload()
    assert "1028 points" in page.inner_text(".membership-panel")
    assert "13698765432" not in page.content()

    # Beijing's staff see the same member, masked, with the points earned in Shanghai
    context = browser.new_context(base_url=live, locale="en-US")
    bob = context.new_page()
    try:
        sign_in(bob, "bob")
        bob.goto(f"/admin/customers/{member}")
        assert bob.inner_text("#customer-phone").strip() == "136****5432"
        assert "1028 points" in bob.inner_text(".membership-panel")
        assert "13698765432" not in bob.content()
    finally:
        context.close()
