"""The admin works under its Content-Security-Policy: pages that use the admin's scripts
(the store switcher, list filters, a delete confirmation, the dashboard's charts) run in a
real Chromium without one console error or CSP violation."""

from __future__ import annotations

import pytest

from tests.admin.conftest import make_customer, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_the_admin_runs_under_its_csp_with_no_console_errors(page, admin_env):
    errors = []
    page.on("console", lambda message: errors.append((page.url, message.text)) if message.type == "error" else None)
    page.on("requestfailed", lambda request: errors.append(("failed", request.url)))
    page.on("response", lambda response: errors.append(("status", response.status, response.url)) if response.status >= 400 else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    make_customer(admin_env.app, "SH001", "王芳", "13901234567")
    sign_in(page, "owner")
    response = page.goto("/admin/")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    page.wait_for_selector("canvas")  # Chart.js drew the dashboard
    with page.expect_navigation():  # the store switcher submits from admin.js, not an inline handler
        page.select_option("#store-switcher select", str(admin_env.chain.ids["sh"]))
    assert page.locator("#store-switcher select").input_value() == str(admin_env.chain.ids["sh"])
    page.goto("/admin/customers/")
    filters = page.locator("a.filter")
    if filters.count():  # Flask-Admin's filter menu: a link that must not navigate
        page.locator("#filter-dropdown, .dropdown-toggle:has-text('Add Filter')").first.click()
        filters.first.click()
        assert page.url.endswith("/admin/customers/")
    page.goto("/admin/modules/")
    page.goto("/admin/analytics/")
    assert errors == [], errors
