"""Chinese throughout, English throughout: as each role, in zh_CN and in English, visit every
menu entry of the demo chain (all five plugins on, every list with rows) and one page of every
endpoint those pages link to (a customer, a sale, details, tickets, reports); fail on a Latin
word on a Chinese page that is neither data nor on the short allow-list, and on Chinese on an
English page that is not data. Test client only (fast); the browser tour is test_browser_tour."""

from __future__ import annotations

import pytest

from tests.admin.crawl import ROLES, crawl, foreign_words, menu_links, readable_text, sign_in



@pytest.fixture
def demo(demo_chain):
    return demo_chain


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_page_speaks_one_language(demo, locale):
    app, data = demo
    problems, broken = [], []
    for role, username in ROLES.items():
        client = sign_in(app, username, locale)
        home = client.get("/admin/")
        assert home.status_code == 200
        first = ["/admin/"] + menu_links(home.get_data(as_text=True))
        found, statuses = crawl(app, client, locale, data, first)
        broken += [f"{role} {url}: {status}" for url, status in statuses.items() if status >= 500]
        problems += [f"{role} {url}: {' '.join(sorted(words))}" for url, words in sorted(found.items())]
        assert len(statuses) > 15, statuses  # the crawl really walked the admin
    assert not broken, "pages that fail:\n" + "\n".join(broken)
    assert not problems, f"words that are not {locale} (label them in the catalogue):\n" + "\n".join(problems)


@pytest.mark.parametrize("locale, forbidden, missing", [
    ("zh_CN", "您无权打开此页面", "页面不存在"), ("en", "You may not open this page", "Page not found")])
def test_error_pages_are_in_the_admin_layout_and_language(demo, locale, forbidden, missing):
    app, data = demo
    client = sign_in(app, ROLES["staff"], locale)
    for url, status, title in [("/admin/stores/", 403, forbidden), ("/admin/customers/999999", 404, missing),
                               ("/admin/no-such-page", 404, missing)]:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert 'id="main-menu"' in html and 'id="error-page"' in html  # the menu is there: the way on
        assert title in readable_text(html)
        assert not foreign_words(readable_text(html), locale, data), url
    # A record the page looks up that does not exist (a DomainError, not werkzeug's NotFound):
    # the same admin page, not the API's JSON.
    manager = sign_in(app, ROLES["manager"], locale)
    response = manager.get("/admin/campaigns/new/999999")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and 'id="error-page"' in html and missing in readable_text(html)
    anonymous = app.test_client()
    response = anonymous.get("/admin/no-such-page")
    assert response.status_code == 404 and 'id="error-page"' in response.get_data(as_text=True)


def test_validation_messages_read_in_the_page_language(demo):
    """marshmallow's and the phone check's messages go through the catalogue in the admin."""
    app, _data = demo
    client = sign_in(app, ROLES["staff"], "zh_CN")
    page = readable_text(client.post("/admin/customers/new", data={"name": "测试", "phone": "13800abcdef"})
                         .get_data(as_text=True))
    assert "手机号无效" in page and "Not a valid phone number" not in page
    from flask_babel import force_locale

    from core.admin.messages import translate

    with app.test_request_context():
        with force_locale("zh_CN"):
            assert translate("Must be greater than or equal to 1 and less than or equal to 10.") == "必须在 1 到 10 之间。"
            assert translate("Missing data for required field.") == "此项必填。"
            assert translate("only 22125 points available") == "只有 22125 积分可用"
        with force_locale("en"):  # English reads as the services wrote it
            assert translate("Must be less than or equal to 10.") == "Must be less than or equal to 10."


def test_a_time_of_day_setting_is_checked_and_explained_in_chinese(demo):
    """feedback's survey time and campaigns' quiet hours share one field (core.api.fields.TimeOfDay):
    "24:00", "9:30" and "10:60" are refused with the message in the page's language, nothing stored."""
    app, _data = demo
    owner = sign_in(app, ROLES["owner"], "zh_CN")
    from core.extensions import db
    from core.models import Store, StorePlugin

    with app.app_context():
        store = db.session.query(Store).filter(Store.sandbox.is_(False)).order_by(Store.id).first()
        before = {p: (db.session.get(StorePlugin, (store.id, p)).settings or {}).copy() for p in ("feedback", "campaigns")}
        registry = app.extensions["storecrm.plugins"]
        # the form as the page fills it: every setting's current value (a checkbox sent only when on)
        form = {p: {k: ("1" if v is True else str(v)) for k, v in registry.settings(store, p).items()
                    if v is not False and v is not None and not isinstance(v, (list, dict))}
                for p in ("feedback", "campaigns")}
    assert owner.post("/admin/switch-store", data={"store": str(store.id)}).status_code == 302
    for plugin, field in (("feedback", "survey_time"), ("campaigns", "quiet_start")):
        for bad in ("24:00", "9:30", "10:60"):
            page = owner.post(f"/admin/modules/{plugin}/settings", data={**form[plugin], field: bad})
            assert page.status_code == 400, (plugin, bad)
            html = page.get_data(as_text=True)
            assert f'data-field="{field}">请按 24 小时制填写“时:分”，例如 10:00。' in html, (plugin, bad)
    with app.app_context():
        after = {p: db.session.get(StorePlugin, (store.id, p)).settings or {} for p in ("feedback", "campaigns")}
    assert after == before


class Boom:
    """A plugin page that fails: the 500 a shop manager may meet."""

    @staticmethod
    def _blueprint():
        from flask import Blueprint

        bp = Blueprint("boom", __name__)

        @bp.get("/admin/boom/")
        def boom():
            raise RuntimeError("customer 13800138000 broke the page")

        return bp

    from core.plugins import hookimpl as _hookimpl

    @_hookimpl
    def register_blueprints(self, app):
        app.register_blueprint(self._blueprint())


@pytest.mark.parametrize("locale, title", [("zh_CN", "出错了"), ("en", "Something went wrong")])
def test_an_unexpected_error_is_a_500_page_in_the_admin_layout_and_language(make_app, locale, title):
    from core.plugins import Manifest
    from tests.admin.conftest import login
    from tests.conftest import build_chain

    app = make_app(plugins=[Manifest(name="boom", version="1", summary="x", hooks=Boom())], PROPAGATE_EXCEPTIONS=False)
    build_chain(app)
    client = app.test_client()
    login(client, "manager")
    assert client.post("/admin/language", data={"locale": locale}).status_code == 302
    response = client.get("/admin/boom/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert 'id="main-menu"' in html and 'id="error-page"' in html
    assert title in readable_text(html)
    assert "13800138000" not in html and "RuntimeError" not in html  # no trace, no customer data
