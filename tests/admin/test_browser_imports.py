"""The import page in a real browser: upload a file, see it listed and done, download the rejects.

Uses the browser fixtures of test_browser.py (Chromium through Playwright, the app served in a
thread); without Redis the job runs in-process, so the page after the upload already shows it done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.conftest import sign_in
from tests.data import CUSTOMERS_ZH as SAMPLE  # 8 rows: 5 good, 3 rejected

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_upload_a_customer_file_see_it_done_and_download_the_rejected_rows(page, admin_env):
    sign_in(page, "manager")
    page.goto("/admin/import/")
    assert page.locator("#no-imports").is_visible()
    page.select_option("#import-form select[name=kind]", "customers")
    page.set_input_files("#import-form input[name=file]", SAMPLE)
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/admin/import/")
    assert "customers_zh.csv is being imported" in page.inner_text("body")
    row = page.locator("#imports tbody tr").first
    assert row.get_attribute("data-status") == "done"
    assert "customers_zh.csv" in row.inner_text() and "done" in row.locator(".import-status").inner_text()
    assert [row.locator(f".import-{name}").inner_text().split()[0] for name in ("created", "updated", "rejected")] \
        == ["5", "0", "3"]
    with page.expect_download() as download:
        row.locator(".rejects-link").click()
    assert download.value.suggested_filename == "customers_zh.rejected.csv"
    rejects = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "not a valid phone number: 12345" in rejects and "already belongs to customer VIP0001" in rejects
