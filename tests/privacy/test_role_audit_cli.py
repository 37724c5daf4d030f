"""Role changes are audited wherever made; the export command writes the JSON and audits it."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.cli import cli
from tests.conftest import Api
from tests.privacy.helpers import PERSON, make_person


def test_a_role_or_store_change_is_audited_with_old_and_new(app, chain):
    from core.extensions import db
    from core.models import AuditLog, Store, User

    with app.app_context():
        alice = db.session.get(User, chain.ids["alice"])
        bj, stores = db.session.get(Store, chain.ids["bj"]), list(alice.stores)
        alice.role = "manager"
        alice.stores = stores + [bj]
        db.session.commit()
        alice.display_name = "Alice Wang"  # not a role change: no record
        db.session.commit()
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "role_change")).all()
        assert [(r.actor, r.target_id, r.details) for r in rows] == [
            ("system", str(chain.ids["alice"]), {"username": "alice", "old_role": "staff", "new_role": "manager",
                                                 "stores_added": ["BJ001"], "stores_removed": []})]


def test_customers_export_command_writes_json_and_audits(app, chain, tmp_path):
    ids = make_person(app, chain)
    out = tmp_path / "export.json"
    result = app.test_cli_runner().invoke(cli, ["customers", "export", str(ids["id"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["profile"]["email"] == PERSON["email"] and doc["sales"][0]["id"] == ids["sale_id"]
    missing = app.test_cli_runner().invoke(cli, ["customers", "export", "999999"])
    assert missing.exit_code != 0 and "not found" in missing.output
    rows = Api(app.test_client()).get("/audit?action=export", token=chain.owner_token).json["items"]
    assert [(r["actor"], r["target_id"]) for r in rows] == [("cli", str(ids["id"]))]
