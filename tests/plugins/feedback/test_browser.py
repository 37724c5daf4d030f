"""A manager works the complaint queue and a ticket in a real Chromium, in Chinese."""

from __future__ import annotations

import threading

import pytest

from tests.admin.conftest import sign_in  # noqa: F401 - the session's one Chromium
from tests.conftest import Api, build_chain, enable
from tests.plugins.feedback.conftest import messenger_plugin
from tests.plugins.feedback.test_admin import age

pytestmark = pytest.mark.browser


@pytest.fixture
def zh_shop(make_app, backend):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the rules are tested on both backends")
    manifest, _messenger = messenger_plugin()
    app = make_app(plugins=[manifest], LOCALE="zh_CN")
    chain = build_chain(app)
    enable(app, "SH001", "feedback")
    return app, chain


@pytest.fixture
def zh_page(browser, zh_shop):  # noqa: F811 - the imported fixture
    from werkzeug.serving import make_server

    app, _chain = zh_shop
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=f"http://127.0.0.1:{server.server_port}",
                                  locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
    server.shutdown()
    thread.join(5)


def test_the_queue_and_ticket_page_in_chinese(zh_shop, zh_page):
    app, chain = zh_shop
    api = Api(app.test_client())
    cid = api.post("/customers", {"phone": "13800138031", "name": "陈女士"}, token=chain.till).json["id"]
    fresh = api.post("/feedback/complaints", {"customer_id": cid, "category": "price", "description": "价格标错了"},
                     token=chain.till).json["id"]
    late = api.post("/feedback/complaints", {"customer_id": cid, "category": "product_quality",
                                             "description": "蛋糕不新鲜"}, token=chain.till).json["id"]
    age(app, late, 30)
    page = zh_page
    sign_in(page, "manager")
    page.goto("/admin/feedback/complaints/")
    rows = page.locator("tr.complaint-row")
    assert rows.count() == 2
    first = rows.nth(0)
    assert first.get_attribute("data-id") == str(late) and "table-danger" in first.get_attribute("class")
    assert "已超时" in first.inner_text() and "产品质量" in first.inner_text()
    assert "正常" in rows.nth(1).inner_text() and rows.nth(1).get_attribute("data-id") == str(fresh)

    first.get_by_role("link", name=f"#{late}").click()
    page.wait_for_url(f"**/admin/feedback/complaints/{late}")
    assert "投诉 #%d" % late in page.locator("h4").inner_text()
    assert "蛋糕不新鲜" in page.locator(".complaint-description").inner_text()
    page.locator('form.complaint-move[data-to="acknowledged"] input[name=note]').fill("已致电陈女士")
    page.locator('form.complaint-move[data-to="acknowledged"] button').click()
    page.wait_for_load_state()
    assert "投诉已变为: 已响应。" in page.content()
    assert page.locator(".complaint-state").inner_text() == "已响应"
    history = page.locator("table.complaint-history tbody tr")
    assert history.count() == 2 and "已致电陈女士" in history.nth(1).inner_text()
    resolve = page.locator('form.complaint-move[data-to="resolved"]')
    resolve.locator("input[name=apology]").check()
    resolve.locator("input[name=replacement]").fill("换一块新蛋糕")
    resolve.get_by_role("button", name="解决").click()
    page.wait_for_load_state()
    assert page.locator(".complaint-state").inner_text() == "已解决"
    assert "换一块新蛋糕" in page.locator("dl.complaint-facts").inner_text()
    assert page.locator('form.complaint-move[data-to="in_progress"] button').inner_text() == "重新打开"
