"""Admin fixtures: an app with a tiny `stamps` plugin (an admin page, a customer panel, a
setting with a range, a sale reaction that can be made to fail), the test chain, and a
signed-in test client per role."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_admin import expose
from marshmallow import Schema, fields, validate

from core.plugins import Manifest, hookimpl
from tests.conftest import REQUIRE_SERVICES, build_chain

PASSWORD = "correct horse battery"


class StampsSettings(Schema):
    stamps_per_coffee = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10),
                                       metadata={"description": "stamps a coffee earns"})
    card_name = fields.String(load_default="Coffee card")
    active = fields.Boolean(load_default=True)


class StampsHooks:
    def __init__(self):
        self.fail_sales = False

    @hookimpl
    def register_admin_views(self, admin):
        from core.admin.base import StoreView

        class StampsView(StoreView):
            plugin = "stamps"

            @expose("/")
            def index(self):
                return "<h1>Stamp cards</h1>"

        admin.add_view(StampsView(name="Stamp cards", endpoint="stamps", url="/admin/stamps"))

    @hookimpl
    def customer_panels(self, customer, ctx):
        return [{"title": "Stamp card", "html": f"<p class='stamps'>{len(customer.name)} stamps</p>", "order": 10}]

    @hookimpl
    def sale_recorded(self, sale, ctx):
        if self.fail_sales:
            raise RuntimeError("stamp printer jammed")


def stamps_plugin() -> tuple[Manifest, StampsHooks]:
    hooks = StampsHooks()
    return Manifest(name="stamps", version="0.3.0", summary="Stamp cards", summary_zh="集点卡", hooks=hooks,
                    settings_schema=StampsSettings), hooks


@pytest.fixture
def admin_env(make_app):
    manifest, hooks = stamps_plugin()
    app = make_app(plugins=[manifest])
    chain = build_chain(app)
    return SimpleNamespace(app=app, chain=chain, hooks=hooks)


def login(client, username: str, password: str = PASSWORD, **kwargs):
    return client.post("/admin/login", data={"username": username, "password": password, **kwargs})


@pytest.fixture
def signed_in(admin_env):
    """`signed_in("alice")` → a test client signed in as alice."""

    def make(username: str):
        client = admin_env.app.test_client()
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


def make_customer(app, store_code: str, name: str, phone: str, **data):
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Store
    from core.services.customers import create_customer

    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
        customer = create_customer(db.session, store, {"name": name, "phone": phone, **data}, actor="test")
        db.session.commit()
        return customer.id


def text(response) -> str:
    """The page as a person reads it: tags stripped, whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets a fixture know, at teardown, whether its test failed (browser screenshots).
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# The browser fixtures: one Chromium for the whole session, shared by every browser test module.
CHROMIUM = os.environ.get("STORECRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _unavailable(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def served_app(app):
    """`app` served by werkzeug in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def live(admin_env):
    with served_app(admin_env.app) as url:
        yield url


@pytest.fixture
def page(browser, live, request):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live, locale="en-US")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def sign_in(page, username: str) -> None:
    page.goto("/admin/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


@pytest.fixture(scope="session")
def demo_chain(tmp_path_factory, templates):
    """The tiny demo chain (tests/admin/crawl.py): the language crawl and the browser tour share it."""
    from tests.admin.crawl import build_demo_app, data_values

    app = build_demo_app(tmp_path_factory.mktemp("demo-chain"), templates["sqlite"])
    return app, data_values(app)
