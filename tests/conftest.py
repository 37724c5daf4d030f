"""Fixtures: a real database per test (SQLite and PostgreSQL), real Redis, a tiny chain.

Every test that takes `app` runs on both backends. PostgreSQL and Redis are started per test
session when installed; without them those tests are skipped with a reason, unless
STORECRM_REQUIRE_SERVICES=1 (CI), which turns a missing service into a failure."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.services import PostgresServer, RedisServer

DATA_KEY = Fernet.generate_key().decode()
REQUIRE_SERVICES = os.environ.get("STORECRM_REQUIRE_SERVICES") == "1"
BUNDLED = sorted(ep.name for ep in entry_points(group="storecrm.plugins") if ep.value.startswith("plugins."))
_counter = itertools.count()


def _missing(what: str):
    message = f"{what} is not installed here (scripts/test installs it)"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _url_builders_compiled_once():
    """A test speed measure, same behaviour: every test builds an app of ~450 URL rules, and
    werkzeug generates and compiles two Python functions per rule, two thirds of create_app's
    time. A builder's code depends only on the rule's text, its variables and its defaults'
    names (the rule and its converters are bound at call time), so each is compiled once per
    test process. A rule with a default for one of its variables folds that default's value in
    at compile time: those are compiled as usual."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict = {}

    def compile_once(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        if any(dynamic and name in defaults for dynamic, name in self._trace):
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), tuple(sorted(defaults)), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", compile_once)
        yield


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    if not server.available:
        yield None
        return
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process, shared by every browser test (admin and plugins):
    Playwright's sync API cannot run twice in one process."""
    import shutil as _shutil

    from tests.admin.conftest import CHROMIUM, CHROMIUM_ARGS

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install -e '.[test]')")
    if not (_shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        _missing(f"Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    if not server.available:
        _missing("redis-server")
    server.start()
    yield server
    server.stop()


def base_config(tmp_path, database_url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATA_KEY": DATA_KEY,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PLUGINS": list(BUNDLED),
        "PLUGINS_STRICT": True,
        "REDIS_URL": None,
        # Counting requests is tested on its own, with tiny limits (tests/api/test_etag_and_limits.py).
        "API_RATE_LIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
        "LOCALE": "en",
        # One process: a subscription change is seen at once (routing's cache is forgotten on each),
        # so the subscriptions are read once per app, not again on some sale (SQL budgets).
        "WEBHOOK_ROUTES_TTL": 3600,
        **extra,
    }


@pytest.fixture(scope="session")
def templates(tmp_path_factory, postgres):
    """One migrated database per backend; each test gets a copy (fast, and real migrations)."""
    from core.app import create_app
    from core.migrate import upgrade

    made = {}
    root = tmp_path_factory.mktemp("template")
    sqlite_file = root / "template.db"
    app = create_app(base_config(root, f"sqlite:///{sqlite_file}"))
    upgrade(app)
    with app.app_context():
        from core.extensions import db

        db.session.remove()
        db.engine.dispose()  # closing the last connection folds the WAL into the file
    made["sqlite"] = sqlite_file
    if postgres is not None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"tpl_{worker}"
        engine = sa.create_engine(postgres.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        app = create_app(base_config(root, postgres.url(name)))
        upgrade(app)
        with app.app_context():
            from core.extensions import db

            db.engine.dispose()
        made["postgresql"] = name
    return made


@contextlib.contextmanager
def postgres_copy(postgres, templates, prefix: str):
    """A fresh PostgreSQL database made from the migrated template; dropped afterwards (in the background)."""
    name = f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{next(_counter)}"
    postgres.create_database(name, template=templates["postgresql"])
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database_soon(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, templates, postgres):
    """A fresh, migrated database for this test."""
    if request.param == "sqlite":
        target = tmp_path / "storecrm.db"
        shutil.copy(templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    if postgres is None:
        _missing("PostgreSQL")
    with postgres_copy(postgres, templates, "t") as url:
        yield url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on this test's database: `make_app(plugins=[Manifest(...)], **config)`."""
    built = []

    def factory(plugins=(), **config):
        from core.app import create_app

        app = create_app(base_config(tmp_path, database_url, **config), plugins=plugins)
        built.append(app)
        return app

    yield factory
    for app in built:
        with app.app_context():
            from core.extensions import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def backend(database_url) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


class Api:
    """A test client that speaks the API: `api.post("/sales", json, token=chain.till)`."""

    def __init__(self, client, token=None):
        self.client = client
        self.token = token

    def call(self, method, path, json=None, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        token = token if token is not None else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open("/api/v1" + path, method=method, json=json, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@functools.cache
def _chain_password_hash() -> str:
    """The chain's users' password, hashed once per test process with a cheap work factor:
    the app's own scrypt costs 0.13 s per hash and per sign-in, and almost every test builds the
    chain and many sign in. Users the tests create through the app get the app's scrypt; a test
    in tests/hardening/test_sessions_headers_limits.py checks that."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash("correct horse battery", method="pbkdf2:sha256:1000")


def build_chain(app) -> SimpleNamespace:
    """Two stores (SH001, BJ001), an owner, a manager and a staff member of SH001, a staff
    member of BJ001, a till token per store, and three products."""
    from decimal import Decimal

    from core.extensions import db
    from core.models import ApiToken, Product, Store, User

    with app.app_context():
        sh = Store(code="SH001", name="上海南京路店", timezone="Asia/Shanghai")
        bj = Store(code="BJ001", name="北京三里屯店", timezone="Asia/Shanghai")
        db.session.add_all([sh, bj])
        people = {}
        for username, role, stores in [("owner", "owner", []), ("manager", "manager", [sh]), ("alice", "staff", [sh]),
                                       ("bob", "staff", [bj])]:
            user = User(username=username, role=role, display_name=username.title(), stores=stores,
                        password_hash=_chain_password_hash())
            db.session.add(user)
            people[username] = user
        db.session.add_all([
            Product(sku="LATTE-M", name="拿铁 中杯", category="coffee", brand="house", price=Decimal("28.00"), cost=Decimal("8.00")),
            Product(sku="CAKE-CHOC", name="巧克力蛋糕", category="cake", brand="house", price=Decimal("35.00"), cost=Decimal("12.00")),
            Product(sku="BEANS-1KG", name="咖啡豆 1kg", category="beans", brand="yunnan", price=Decimal("1200.00"), cost=Decimal("600.00")),
        ])
        tokens = {}
        for key, kwargs in {"till": {"store": sh}, "till_bj": {"store": bj}, "owner_token": {"user": people["owner"]},
                            "manager_token": {"user": people["manager"]}, "staff_token": {"user": people["alice"]},
                            "staff_bj_token": {"user": people["bob"]}}.items():
            row, raw = ApiToken.issue(key, **kwargs)
            db.session.add(row)
            tokens[key] = raw
        db.session.commit()
        ids = {"sh": sh.id, "bj": bj.id, **{u: p.id for u, p in people.items()}}
    return SimpleNamespace(**tokens, ids=ids)


@pytest.fixture
def chain(app):
    return build_chain(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    return Api(client)


def enable(app, store_code: str, *names: str) -> None:
    """Switch plugins on for a store, as an owner would."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import enable_plugin

    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == store_code)).one()
        for name in names:
            enable_plugin(db.session, store, name, actor="test")
        db.session.commit()

