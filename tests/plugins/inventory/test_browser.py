"""The stock page in a real browser, in Chinese: a manager sees what runs low and what to reorder,
books a delivery with the form and follows a level to the moves that explain it."""

from __future__ import annotations

import threading

import pytest

from tests.admin.conftest import sign_in  # noqa: F401 - the session's Chromium

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
def page(browser, shop):  # noqa: F811 - the fixture imported above
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, shop.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  base_url=f"http://127.0.0.1:{server.server_port}", locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
    server.shutdown()
    thread.join(5)


def test_the_stock_page_in_chinese(page, shop):
    shop.move("LATTE-M", 20)
    shop.move("CAKE-CHOC", 6)
    shop.sell("CAKE-CHOC", 3)  # 3 left, under the store's safety stock of 5
    sign_in(page, "manager")
    assert page.request.post("/admin/language", form={"locale": "zh_CN"}).ok
    page.goto("/admin/inventory/stock/")
    assert page.inner_text("h4").startswith("库存")
    cake = page.locator("tr[data-sku='CAKE-CHOC']")
    assert "低于安全库存" in cake.inner_text() and cake.locator("[data-level]").inner_text() == "3"
    assert "（门店默认）" not in cake.inner_text() and "门店默认" in cake.inner_text()
    reorder = page.locator("tr[data-suggestion='CAKE-CHOC']").inner_text()
    assert "最低/最高库存" not in reorder and "销售速度" in reorder
    # a delivery of 4 cakes, booked with the form
    page.select_option(".inventory-move select[name=kind]", "receipt")
    page.fill(".inventory-move input[name=item]", "CAKE-CHOC")
    page.fill(".inventory-move input[name=quantity]", "4")
    page.fill(".inventory-move input[name=reason]", "甜点工坊送货")
    page.click(".inventory-move button[type=submit]")
    page.wait_for_selector("text=库存已更新。")
    cake = page.locator("tr[data-sku='CAKE-CHOC']")
    assert cake.locator("[data-level]").inner_text() == "7" and "正常" in cake.inner_text()
    # the level is explained by its moves
    page.click("tr[data-sku='CAKE-CHOC'] a")
    page.wait_for_selector(".inventory-moves")
    rows = page.locator(".inventory-moves tbody tr").all_inner_texts()
    assert [r.split("\t")[1:4] for r in rows] == [["入库", "6", "6"], ["销售", "-3", "3"], ["入库", "4", "7"]]
    assert "甜点工坊送货" in rows[-1]
