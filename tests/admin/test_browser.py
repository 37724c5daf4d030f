"""The admin in a real browser: Playwright driving Debian's Chromium against the app served by
a werkzeug server in a thread. A failing test leaves a screenshot under test-artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import make_customer, sign_in
from tests.conftest import enable

# The browser checks the screens; the database rules are covered on both backends by the
# test-client tests, so one backend is enough here.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_sign_in_find_a_customer_by_phone_and_read_the_preferences_masked_for_staff(page, admin_env):
    customer_id = make_customer(admin_env.app, "SH001", "王芳", "13901234567",
                                preferences={"coffee": "hot, no sugar"}, email="wangfang@example.cn")
    page.goto("/admin/login")
    page.fill("#username", "alice")
    page.fill("#password", "not her password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("#login-error")
    sign_in(page, "alice")
    page.fill("#counter-search", "+86 139-0123-4567")
    page.press("#counter-search", "Enter")
    page.wait_for_url(f"**/admin/customers/{customer_id}")
    assert page.inner_text("#customer-name").startswith("王芳")
    prefs = page.inner_text("#preferences")
    assert "coffee" in prefs and "hot, no sugar" in prefs
    assert page.inner_text("#customer-phone").strip() == "139****4567"
    assert "13901234567" not in page.content()
    assert page.locator("#reveal").count() == 0
    # Record a visit from the page, as at the counter.
    page.click("text=Record a visit")
    page.fill("#visit-form input[name=purpose]", "morning coffee")
    page.click("#visit-form button[type=submit]")
    page.wait_for_selector("text=Visit recorded.")
    assert "morning coffee" in page.inner_text("#timeline")


def test_a_manager_unmasks_a_phone_on_purpose(page, admin_env):
    customer_id = make_customer(admin_env.app, "SH001", "张伟", "13800138000")
    sign_in(page, "manager")
    page.goto(f"/admin/customers/{customer_id}")
    assert page.inner_text("#customer-phone").strip() == "138****8000"
    page.click("#reveal")
    page.wait_for_selector("#customer-phone")
    assert page.inner_text("#customer-phone").strip() == "13800138000"


def test_toggle_a_module_and_its_menu_appears_and_vanishes_and_bad_settings_are_explained(page, admin_env):
    sign_in(page, "owner")  # switching modules is the owner's (api.md); in the store picked in the navbar
    with page.expect_navigation():
        page.select_option("#store-switcher select", str(admin_env.chain.ids["sh"]))
    navbar = page.locator("nav.navbar")
    assert navbar.get_by_text("Stamp cards").count() == 0
    page.goto("/admin/modules/")
    card = page.locator("#module-stamps")
    assert "Stamp cards" in card.inner_text() and "v0.3.0" in card.inner_text()
    card.locator("button.module-toggle").click()
    page.wait_for_selector("text=stamps is on in")
    page.locator("nav.navbar").get_by_text("Stamp cards").click()
    assert page.inner_text("h1") == "Stamp cards"
    page.goto("/admin/modules/")
    card = page.locator("#module-stamps")
    card.locator("summary").click()
    card.locator("input[name=stamps_per_coffee]").fill("50")
    card.locator(".settings-form button[type=submit]").click()
    page.wait_for_selector(".field-error")
    error = page.locator("#module-stamps .field-error[data-field=stamps_per_coffee]")
    assert "less than or equal to 10" in error.inner_text()
    assert page.locator("#module-stamps input[name=stamps_per_coffee]").input_value() == "50"
    page.locator("#module-stamps button.module-toggle").click()
    page.wait_for_selector("text=stamps is off in")
    assert page.locator("nav.navbar").get_by_text("Stamp cards").count() == 0
    assert page.goto("/admin/stamps/").status == 404


def test_switch_language_and_the_dashboard_draws_its_charts(page, admin_env):
    enable(admin_env.app, "SH001", "stamps")
    client = admin_env.app.test_client()
    client.post("/api/v1/sales", json={"external_id": "b-1", "lines": [{"sku": "LATTE-M", "quantity": 2}]},
                headers={"Authorization": f"Bearer {admin_env.chain.till}"})
    sign_in(page, "manager")
    page.wait_for_function("document.querySelectorAll('canvas.storecrm-chart').length >= 3 && "
                           "Chart.getChart(document.querySelector('#chart-sales')) !== undefined")
    assert "¥56.00" in page.inner_text(".dashboard-tiles")
    page.click("#language-switcher button[value=zh_CN]")
    page.wait_for_selector("text=今日销售")
    menu = page.inner_text("nav.navbar")
    assert "客户" in menu and "退出" in menu
    page.goto("/admin/customers/")
    assert "新建客户" in page.inner_text("body")
    page.click("#language-switcher button[value=en]")
    page.wait_for_selector("text=New customer")
