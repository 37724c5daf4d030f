"""The admin's side of the chain counter, without a browser: a profile's home store stays among
the user's stores, and serving a customer of another branch is linked and audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.admin.conftest import make_customer, text

# The rule's SQL runs on both backends in tests/security; this checks the admin's forms.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_home_store_stays_among_the_users_stores_and_serve_here_is_audited(admin_env, signed_in):
    from core.extensions import db
    from core.models import AuditLog, Customer

    app = admin_env.app
    mine = make_customer(app, "SH001", "张伟", "13800138000")
    theirs = make_customer(app, "BJ001", "赵北京", "13698765432")
    alice = signed_in("alice")
    page = alice.post(f"/admin/customers/{mine}/edit", data={"name": "张伟", "home_store": "BJ001"})
    assert "Pick one of your stores." in text(page)
    assert alice.get(f"/admin/customers/{theirs}").status_code == 404
    # the full phone in the counter box: the chain's customer, masked, to serve here
    lookup = text(alice.get("/admin/customers/lookup?q=136%209876%205432"))
    assert "赵北京" in lookup and "136****5432" in lookup and "13698765432" not in lookup
    r = alice.post("/admin/customers/serve-here", data={"phone": "136 9876 5432"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/customers/{theirs}")
    assert "136****5432" in text(alice.get(f"/admin/customers/{theirs}"))
    assert alice.post("/admin/customers/serve-here", data={"phone": "13712345678"}).status_code == 302
    with app.app_context():
        assert db.session.get(Customer, mine).home_store.code == "SH001"
        linked = [(a.actor, a.target_id, a.details["via"]) for a in
                  db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "customer_linked"))]
    assert linked == [("alice", str(theirs), "serve_here")]
