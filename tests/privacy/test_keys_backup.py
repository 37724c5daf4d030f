"""Data keys (required, rotatable) and backup/restore of the whole database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from core.cli import cli
from core.config import ConfigError, load_config
from tests.conftest import Api, build_chain
from tests.privacy.helpers import make_person


def test_a_missing_or_broken_data_key_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.delenv("STORECRM_DATA_KEY", raising=False)
    monkeypatch.setenv("STORECRM_ENV_FILE", str(tmp_path / "none.env"))
    with pytest.raises(ConfigError, match="STORECRM_DATA_KEY is not set"):
        load_config(str(tmp_path), {"SECRET_KEY": "s"})
    with pytest.raises(ConfigError, match="Fernet keys"):
        load_config(str(tmp_path), {"SECRET_KEY": "s", "DATA_KEY": "not-a-key"})


def test_the_command_says_so_in_one_readable_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update(STORECRM_SECRET_KEY="s", STORECRM_DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
               STORECRM_ENV_FILE=str(tmp_path / "none.env"), STORECRM_INSTANCE_PATH=str(tmp_path))
    storecrm = os.path.join(os.path.dirname(sys.executable), "storecrm")
    result = subprocess.run([storecrm, "stores", "list"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: STORECRM_DATA_KEY is not set")
    assert "Traceback" not in result.stderr


def _customers(app):
    from core.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT id, phone, phone_hash, email, email_hash FROM customer ORDER BY id").all()


def test_rotation_re_encrypts_in_resumable_batches_and_lookups_keep_working(make_app):
    from core.extensions import db
    from core.privacy.rotation import rotate_keys

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(DATA_KEY=old_key)
    chain = build_chain(app)
    api = Api(app.test_client())
    for i in range(3):
        r = api.post("/customers", {"name": f"c{i}", "phone": f"1370000000{i}", "email": f"c{i}@example.com",
                                    "address": f"路{i}号"}, token=chain.manager_token)
        assert r.status_code == 201, r.json
    before = _customers(app)

    during = make_app(DATA_KEY=f"{new_key},{old_key}")

    class Stop(Exception):
        pass

    def crash_after_first_batch(table, last_id):
        if table == "customer":
            raise Stop

    with during.app_context():
        with pytest.raises(Stop):
            rotate_keys(db.session, during.extensions["storecrm.cipher"], db.metadata, batch=1,
                        on_batch=crash_after_first_batch)
        db.session.rollback()
    # mid-rotation, lookups by phone find rows under either key
    assert len(Api(during.test_client()).get("/customers?phone=13700000000", token=chain.till).json["items"]) == 1
    assert len(Api(during.test_client()).get("/customers?phone=13700000002", token=chain.till).json["items"]) == 1

    result = during.test_cli_runner().invoke(cli, ["keys", "rotate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "customer (phone, email, address): 2 re-encrypted, 1 already current" in result.output
    after = _customers(app)
    assert all(a[1] != b[1] and a[2] != b[2] and a[4] != b[4] for a, b in zip(after, before))

    again = during.test_cli_runner().invoke(cli, ["keys", "rotate"])
    assert "0 re-encrypted, 3 already current" in again.output

    new_only = make_app(DATA_KEY=new_key)
    new_api = Api(new_only.test_client())
    found = new_api.get("/customers?phone=137-0000-0001&reveal=true", token=chain.manager_token).json["items"]
    assert [(c["name"], c["phone"], c["email"], c["address"]) for c in found] == [
        ("c1", "+8613700000001", "c1@example.com", "路1号")]


def _snapshot(app) -> dict:
    """Every row of every table, as text, sorted; audit rows of restores left out."""
    from core.extensions import db

    tables = {}
    with app.app_context():
        with db.engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                columns = [c["name"] for c in sa.inspect(conn).get_columns(table)]
                rows = conn.exec_driver_sql(
                    "SELECT " + ", ".join(f'CAST("{c}" AS TEXT)' for c in columns) + f' FROM "{table}"').all()
                if table == "audit_log":
                    rows = [r for r in rows if r[columns.index("action")] != "restore"]
                tables[table] = sorted(tuple("" if v is None else v for v in r) for r in rows)
    return tables


def test_backup_and_restore_bring_every_table_back(app, chain, tmp_path, backend):
    make_person(app, chain)
    runner = app.test_cli_runner()
    target = tmp_path / "shop.backup"
    result = runner.invoke(cli, ["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    saved = _snapshot(app)
    assert saved["customer"] and saved["sale"] and any(r for r in saved["audit_log"] if "backup" in r)

    api = Api(app.test_client())
    api.post("/customers", {"name": "after the backup", "phone": "13500000000"}, token=chain.till)
    api.delete(f"/customers/{saved['customer'][0][0]}", token=chain.owner_token)
    assert _snapshot(app) != saved

    refused = runner.invoke(cli, ["restore", str(target)])
    assert refused.exit_code != 0 and "not empty" in refused.output
    result = runner.invoke(cli, ["restore", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert _snapshot(app) == saved
    # and the shop works on the restored database
    assert api.get("/customers?phone=13912345678", token=chain.manager_token).json["items"][0]["name"] == "王晓明"
    rows = api.get("/audit?action=restore", token=chain.owner_token).json["items"]
    assert rows and rows[0]["details"]["forced"] is True


def test_restore_refuses_what_is_not_a_backup(app, chain, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database")
    result = app.test_cli_runner().invoke(cli, ["restore", str(junk), "--force"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert Api(app.test_client()).get("/customers", token=chain.owner_token).status_code == 200
