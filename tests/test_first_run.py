"""First run on a fresh machine: `storecrm keys generate` needs no environment; a command on a
database that is not upgraded says what to run, exits 1 and shows no traceback; `db upgrade`
names what it applied; products come in from a spreadsheet with Chinese headers; an export
file is readable by its owner only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from openpyxl import Workbook

from tests.conftest import DATA_KEY, build_chain
from tests.privacy.helpers import make_person

STORECRM = str(Path(sys.executable).with_name("storecrm"))


def clean_env(tmp_path, **extra) -> dict:
    return {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **extra}


def test_keys_generate_needs_no_environment_at_all(tmp_path):
    done = subprocess.run([STORECRM, "keys", "generate"], env=clean_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    Fernet(done.stdout.strip().encode())


def test_a_database_that_is_not_upgraded_is_named_with_the_command_to_run(tmp_path):
    env = clean_env(tmp_path, STORECRM_SECRET_KEY="x", STORECRM_DATA_KEY=DATA_KEY)

    def storecrm(*args):
        return subprocess.run([STORECRM, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    for args in (["stores", "list"], ["users", "create", "boss", "--role", "owner", "--password", "long enough pw"],
                 ["products", "import", "nothing.csv"], ["run"]):
        if args[0] == "products":
            (tmp_path / "nothing.csv").write_text("商品编号,商品名称,价格\n")
        done = storecrm(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "run `storecrm db upgrade`" in done.stderr and "Traceback" not in done.stderr, done.stderr
    upgraded = storecrm("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    lines = upgraded.stdout.splitlines()
    assert lines[0].startswith("applied core_0001") and any("membership" in line for line in lines)
    assert storecrm("db", "upgrade").stdout == "database was already up to date\n"
    assert storecrm("stores", "list").returncode == 0


def test_products_import_from_xlsx_with_chinese_headers_and_a_refused_file_writes_nothing(app):
    from sqlalchemy import select

    from core.extensions import db
    from core.imports.products import import_products
    from core.models import Product

    book = Workbook()
    sheet = book.active
    sheet.append(["商品编号", "商品名称", "售价", "成本", "品类", "品牌"])
    sheet.append(["TEA-GREEN", "龙井 中杯", 18, 5.5, "tea", "house"])
    sheet.append(["LATTE-M", "拿铁 中杯", "30.00", None, "coffee", None])
    good = app.instance_path + "/good.xlsx"
    book.save(good)
    build_chain(app)
    with app.app_context():
        result = import_products(db.session, good)
        assert (result.created, result.updated, result.errors) == (1, 1, [])
        db.session.commit()
        prices = dict(db.session.execute(select(Product.sku, Product.price)).all())
        assert str(prices["TEA-GREEN"]) == "18.00" and str(prices["LATTE-M"]) == "30.00"
    bad = Path(app.instance_path) / "bad.csv"
    bad.write_text("商品编号,商品名称,价格\nNEW-1,新品,12.00\nNEW-2,新品二,1.005\n", encoding="utf-8")
    with app.app_context():
        result = import_products(db.session, str(bad))
        assert result.errors == [{"line": 3, "field": "price", "reason": "At most 2 decimals."}]
        db.session.rollback()  # the command commits nothing when a row is refused
        assert db.session.scalar(select(Product).where(Product.sku == "NEW-1")) is None


def test_a_customer_export_file_is_readable_by_its_owner_only(app, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from core.cli import cli

    chain = build_chain(app)
    ids = make_person(app, chain)
    target = tmp_path / "export.json"
    target.write_text("{}")
    os.chmod(target, 0o644)  # an older file with a wider mode is narrowed too
    monkeypatch.setenv("STORECRM_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("STORECRM_DATA_KEY", DATA_KEY)
    monkeypatch.setenv("STORECRM_SECRET_KEY", "x")
    monkeypatch.setenv("STORECRM_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("STORECRM_ENV_FILE", str(tmp_path / "none.env"))
    from tests.conftest import BUNDLED

    monkeypatch.setenv("STORECRM_PLUGINS", ",".join(BUNDLED))
    result = CliRunner().invoke(cli, ["customers", "export", str(ids["id"]), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["profile"]["id"] == ids["id"]
