"""Fixtures for testing a storecrm plugin (a pytest plugin, loaded through the `pytest11` entry
point whenever storecrm is installed). See docs/testing-plugins.md.

    def test_stamps(storecrm_shop):
        sale = storecrm_shop.sale([{"sku": "LATTE", "quantity": 2}], phone="13800000001")
        assert sale["effects"]["stampcard"]["stamps"] == 2

Every fixture is prefixed `storecrm_`, so a project's own fixtures never collide with them.
Override `storecrm_plugins` (the plugins that load, default: every installed one) and
`storecrm_enabled` (switched on in the test store, default: `storecrm_plugins`) in a
conftest.py. Set `STORECRM_TEST_DATABASE_URL` to a PostgreSQL server URL to run on PostgreSQL
(each test gets a database of its own there); SQLite files in a temporary folder otherwise.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import entry_points

import pytest

_databases = itertools.count()


@pytest.fixture
def storecrm_plugins() -> list[str]:
    """The plugins the test app loads (entry-point names). Default: every installed plugin."""
    return sorted({ep.name for ep in entry_points(group="storecrm.plugins")})


@pytest.fixture
def storecrm_enabled(storecrm_plugins) -> list[str]:
    """The plugins switched on in the test store."""
    return list(storecrm_plugins)


@pytest.fixture
def storecrm_database_url(tmp_path):
    """A fresh database for one test: SQLite in tmp_path, or a new PostgreSQL database on the
    server of STORECRM_TEST_DATABASE_URL, dropped afterwards."""
    server = os.environ.get("STORECRM_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'storecrm.db'}"
        return
    import sqlalchemy as sa

    name = f"storecrm_test_{os.getpid()}_{next(_databases)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def storecrm_app(storecrm_database_url, storecrm_plugins, tmp_path):
    """The app, migrated (core and every loaded plugin), with jobs in-process."""
    from cryptography.fernet import Fernet

    from core.app import create_app
    from core.migrate import upgrade

    app = create_app({
        "TESTING": True, "SECRET_KEY": "storecrm-testing", "DATA_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": storecrm_database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
        "PLUGINS": list(storecrm_plugins), "PLUGINS_STRICT": True, "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False, "LOCALE": "en",
    })
    upgrade(app)
    yield app
    with app.app_context():
        from core.extensions import db

        db.session.remove()
        db.engine.dispose()


@dataclass
class Shop:
    """A store `TEST01` with the plugins under test switched on, three products, a till token,
    and an owner, a manager and a staff member with API tokens of their own."""

    app: object
    store_code: str = "TEST01"
    tokens: dict = field(default_factory=dict)

    def client(self, who: str = "till"):
        """A test client whose requests carry `who`'s bearer token (till, owner, manager, staff)."""
        client = self.app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[who]}"
        return client

    def sale(self, lines, *, phone: str | None = None, customer_id: int | None = None, who: str = "till",
             expect: int = 201, **extra) -> dict:
        """POST /api/v1/sales and return its JSON answer (asserting the status)."""
        body = {"lines": lines, **extra}
        if phone:
            body["customer"] = {"phone": phone}
        elif customer_id:
            body["customer"] = {"id": customer_id}
        if who != "till":
            body.setdefault("store", self.store_code)
        response = self.client(who).post("/api/v1/sales", json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def refund(self, sale_id: int, lines=None, *, who: str = "manager", expect: int = 201) -> dict:
        """POST /api/v1/sales/{id}/refunds (all of it without `lines`)."""
        response = self.client(who).post(f"/api/v1/sales/{sale_id}/refunds", json={"lines": lines} if lines else {})
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def cli(self, *args):
        """Run `storecrm ARGS...` against this app; returns click's Result."""
        from core.cli import cli

        return self.app.test_cli_runner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def storecrm_shop(storecrm_app, storecrm_enabled) -> Shop:
    from core.extensions import db
    from core.models import ApiToken, Product, Store, User
    from core.services.store_plugins import enable_plugin

    shop = Shop(app=storecrm_app)
    with storecrm_app.app_context():
        store = Store(code=shop.store_code, name="测试店", timezone="Asia/Shanghai", currency="CNY")
        db.session.add(store)
        for sku, name, price in (("LATTE", "拿铁", "28.00"), ("MUFFIN", "松饼", "15.00"), ("BEANS", "咖啡豆", "88.00")):
            db.session.add(Product(sku=sku, name=name, category="coffee", price=Decimal(price),
                                   cost=(Decimal(price) * Decimal("0.4")).quantize(Decimal("0.01")), attributes={}))
        for username, role in (("owner", "owner"), ("manager", "manager"), ("staff", "staff")):
            user = User(username=username, display_name=username, role=role, active=True,
                        stores=[] if role == "owner" else [store])
            user.set_password("storecrm-testing")
            db.session.add(user)
            db.session.flush()
            shop.tokens[username] = _token(db.session, ApiToken, user=user, name=f"{username}-token")
        shop.tokens["till"] = _token(db.session, ApiToken, store=store, name="till-1")
        for name in storecrm_enabled:
            enable_plugin(db.session, store, name, actor="test")
        db.session.commit()
    return shop


def _token(session, model, **kwargs) -> str:
    token, raw = model.issue(**kwargs)
    session.add(token)
    return raw


@pytest.fixture
def storecrm_cli(storecrm_app):
    """`storecrm_cli("plugins", "list")`: the real `storecrm` command group, bound to the app."""
    from core.cli import cli

    return lambda *args: storecrm_app.test_cli_runner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_erased(app, customer_id: int, *, plugin: str, values=()) -> None:
    """Fail if any table of `plugin` (tables prefixed with its name) still has a row pointing at
    `customer_id`, or holds any of `values` (names, phones, notes...) in any column."""
    import sqlalchemy as sa

    from core.extensions import db

    with app.app_context():
        inspector = sa.inspect(db.engine)
        left = []
        for table_name in inspector.get_table_names():
            if not table_name.startswith(plugin + "_"):
                continue
            table = sa.Table(table_name, sa.MetaData(), autoload_with=db.engine)
            rows = db.session.execute(sa.select(table)).mappings().all()
            for row in rows:
                for column, value in row.items():
                    if column.endswith("customer_id") and value == customer_id:
                        left.append(f"{table_name}.{column} = {customer_id}")
                    if value is not None and any(v and v in str(value) for v in values):
                        left.append(f"{table_name}.{column} holds {value!r}")
        assert not left, "the erased customer is still in the plugin's tables: " + "; ".join(left)


@pytest.fixture
def storecrm_assert_erased(storecrm_app):
    """`storecrm_assert_erased(customer_id, plugin="stampcard", values=["张三"])`."""
    return lambda customer_id, *, plugin, values=(): assert_erased(storecrm_app, customer_id, plugin=plugin,
                                                                   values=values)
