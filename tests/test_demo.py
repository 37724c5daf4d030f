"""`storecrm demo`: a believable chain from nothing, twice without duplicates, no environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

pytestmark = pytest.mark.slow
STORECRM = str(Path(sys.executable).parent / "storecrm")  # the console script pip installed


def run_demo(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}  # no keys, no database set
    env["STORECRM_ENV_FILE"] = os.devnull
    return subprocess.run([STORECRM, "demo", "--no-serve", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_demo_builds_a_chain_once_and_prints_how_to_get_in(tmp_path):
    first = run_demo(tmp_path, "--customers", "60", "--days", "21")
    assert first.returncode == 0, first.stderr
    assert "open http://127.0.0.1:5000/admin/" in first.stdout
    for login in ("owner / storecrm-demo", "manager / storecrm-demo", "staff / storecrm-demo"):
        assert login in first.stdout
    env_file = tmp_path / "instance" / "demo.env"
    assert "STORECRM_DATA_KEY=" in env_file.read_text() and oct(env_file.stat().st_mode)[-3:] == "600"

    engine = create_engine(f"sqlite:///{tmp_path / 'instance' / 'demo.db'}")
    with engine.connect() as conn:
        def count(table):
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()

        before = {t: count(t) for t in ("store", "customer", "sale", "visit", "user_account", "consent", "event")}
        assert before["store"] == 3 and before["customer"] == 60 and before["sale"] > 50 and before["visit"] > 5
        # Phones are valid mainland mobiles, stored encrypted: nothing readable in the file.
        assert conn.execute(text("SELECT count(*) FROM customer WHERE phone LIKE '+861%'")).scalar() == 0
        # Every sale went through the events like a till's: one sale_recorded event each.
        assert conn.execute(text("SELECT count(*) FROM event WHERE name = 'sale_recorded'")).scalar() == before["sale"]
        # A weekly rhythm: the busiest weekday sells clearly more than the quietest.
        per_weekday = dict(conn.execute(text(
            "SELECT strftime('%w', occurred_at, '+8 hours'), count(*) FROM sale GROUP BY 1")).all())
        assert max(per_weekday.values()) > 1.3 * min(per_weekday.values())
        stores_on = dict(conn.execute(text(
            "SELECT s.code, group_concat(p.plugin) FROM store s LEFT JOIN store_plugin p ON p.store_id = s.id "
            "AND p.enabled GROUP BY s.code")).all())
        assert set(stores_on) == {"CAFE01", "WEAR01", "BEAU01"}
        # Regulars were customers before the history's window: the lifecycle has active customers
        # (issue 13: with every first purchase in the last 90 days, everyone was "new").
        stages = dict(conn.execute(text("SELECT lifecycle, count(*) FROM customer_class GROUP BY 1")).all())
        assert stages.get("active", 0) > 0 and stages.get("new", 0) > 0, stages

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr
    with engine.connect() as conn:
        assert {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in before} == before
    engine.dispose()


def test_demo_logins_work_and_the_customer_page_reads_well(tmp_path):
    from core.app import create_app
    from core.demo import DEMO_PASSWORD, build_demo, demo_config
    from core.models import Customer

    app = create_app({**demo_config(tmp_path / "instance"), "TESTING": True, "WTF_CSRF_ENABLED": False, "LOCALE": "en"})
    build_demo(app, customers=30, days=14, echo=lambda *_: None)
    client = app.test_client()
    assert client.post("/admin/login", data={"username": "staff", "password": DEMO_PASSWORD}).status_code == 302
    with app.app_context():
        from core.extensions import db

        customer = db.session.scalars(select(Customer).where(Customer.home_store.has(code="CAFE01"))
                                      .order_by(func.random())).first()
    page = client.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    assert customer.name in page and next(iter(customer.preferences)) in page
    assert "拾光咖啡" in client.get("/admin/").get_data(as_text=True)
    # one member of the whole chain: gold at WEAR01, served at CAFE01 by her phone
    from core.demo import CHAIN_MEMBER
    from core.models import CustomerStoreLink, Sale

    with app.app_context():
        member = db.session.scalars(select(Customer).where(Customer.code == CHAIN_MEMBER["code"])).one()
        stores = sorted(db.session.scalars(select(Sale.store_id).where(Sale.customer_id == member.id).distinct()))
        links = [(link.store_id, link.via) for link in
                 db.session.scalars(select(CustomerStoreLink).where(CustomerStoreLink.customer_id == member.id))]
        member_id, home = member.id, member.home_store.code
    assert home == "WEAR01" and len(stores) == 2 and len(links) == 1 and links[0][1] == "sale"
    page = client.get(f"/admin/customers/{member_id}").get_data(as_text=True)  # CAFE01's staff
    assert CHAIN_MEMBER["name"] in page and "137****0001" in page and CHAIN_MEMBER["phone"] not in page
    assert "Gold member" in page  # the membership panel, in the English admin


def test_without_a_data_key_everything_but_the_demo_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env["STORECRM_ENV_FILE"] = os.devnull
    result = subprocess.run([STORECRM, "stores", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "STORECRM_" in result.stderr
