"""The audit log: written for sensitive actions, readable by owners, never changed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, select, update

from core.audit import audit
from core.privacy.audit_guard import AuditLogIsAppendOnly
from tests.conftest import Api


def test_owner_reads_the_audit_log_newest_first_with_filters_and_cursor(app, chain):
    api = Api(app.test_client())
    r = api.post("/customers", {"name": "李雷", "phone": "13700001111", "store": "SH001"}, token=chain.manager_token)
    customer_id = r.json["id"]
    for _ in range(3):
        assert api.get(f"/customers/{customer_id}", token=chain.manager_token).status_code == 200
    assert api.put("/stores/SH001/plugins/nonexistent", {"enabled": True}, token=chain.owner_token).status_code in (400, 404)

    page = api.get("/audit?action=unmask&limit=2", token=chain.owner_token)
    assert page.status_code == 200, page.json
    first = page.json["items"]
    assert len(first) == 2 and first[0]["id"] > first[1]["id"]
    assert {row["actor"] for row in first} == {"manager"}
    assert first[0]["target_type"] == "customer" and first[0]["target_id"] == str(customer_id)
    assert first[0]["ip"] == "127.0.0.1" and first[0]["store"] is None
    rest = api.get(f"/audit?action=unmask&limit=2&cursor={page.json['next_cursor']}", token=chain.owner_token).json
    assert [row["action"] for row in rest["items"]] == ["unmask", "unmask"]  # create + 3 reads = 4
    assert rest["next_cursor"] is None
    assert api.get("/audit?actor=nobody", token=chain.owner_token).json["items"] == []
    assert api.get("/audit?since=2000-01-01T00:00:00Z&target_type=customer", token=chain.owner_token).json["items"]
    assert api.get("/audit?cursor=%27%20OR%201=1--", token=chain.owner_token).status_code == 400


@pytest.mark.parametrize("who", ["manager_token", "staff_token", "till"])
def test_only_owners_read_the_audit_log(app, chain, who):
    assert Api(app.test_client()).get("/audit", token=getattr(chain, who)).status_code == 403


def test_the_orm_refuses_to_change_or_delete_audit_rows(app, chain):
    from core.extensions import db
    from core.models import AuditLog

    with app.app_context():
        row = audit("unmask", actor="test", target=("customer", 1))
        db.session.commit()
        row.action = "nothing to see"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(AuditLog, row.id))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(delete(AuditLog))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(update(AuditLog).values(actor="x"))
        db.session.rollback()
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.id == row.id)) == "unmask"


def test_the_database_refuses_too_whatever_client_writes(app, chain):
    """The triggers of migration core_0002_privacy: raw SQL, bypassing the ORM."""
    from core.extensions import db
    from core.models import User

    with app.app_context():
        audit("unmask", actor="test", target=("customer", 1))
        db.session.commit()
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log",
                          "UPDATE audit_log SET user_id = NULL, details = '{\"x\": 1}'"):
            with db.engine.connect() as conn:
                with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                    conn.exec_driver_sql(statement)
        # Removing a user sets the foreign key to NULL: allowed, the row keeps the name.
        manager_id = chain.ids["manager"]
        manager = db.session.get(User, manager_id)
        audit("role_change", actor=manager, target=manager, details={"old": "staff", "new": "manager"})
        db.session.commit()
        db.session.close()  # SQLite: one writer at a time
        with db.engine.begin() as conn:
            for table, column in (("api_token", "user_id"), ("user_store", "user_id"), ("user_account", "id")):
                conn.exec_driver_sql(f"DELETE FROM {table} WHERE {column} = {manager_id}")
        with db.engine.connect() as conn:
            actor, user_id = conn.exec_driver_sql(
                "SELECT actor, user_id FROM audit_log WHERE action = 'role_change'").one()
        assert (actor, user_id) == ("manager", None)
