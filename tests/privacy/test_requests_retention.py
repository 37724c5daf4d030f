"""Data-subject requests with a 30-day due date, and the retention purge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.conftest import Api


def test_a_request_is_due_in_30_days_listed_by_store_and_closed_once(app, chain):
    api = Api(app.test_client())
    r = api.post("/privacy/requests", {"kind": "delete", "channel": "phone"}, token=chain.staff_token)
    assert r.status_code == 201, r.json
    req = r.json
    received = datetime.fromisoformat(req["received_at"])
    assert datetime.fromisoformat(req["due_at"]) - received == timedelta(days=30)
    assert req["store"] == "SH001" and req["status"] == "open"
    assert api.post("/privacy/requests", {"kind": "gossip"}, token=chain.staff_token).status_code == 400
    api.post("/privacy/requests", {"kind": "access"}, token=chain.staff_bj_token)

    assert api.get("/privacy/requests", token=chain.staff_token).status_code == 403
    mine = api.get("/privacy/requests", token=chain.manager_token).json["items"]
    assert [q["id"] for q in mine] == [req["id"]]  # BJ001's request is not the SH001 manager's
    assert len(api.get("/privacy/requests", token=chain.owner_token).json["items"]) == 2
    assert api.get("/privacy/requests?overdue=true", token=chain.owner_token).json["items"] == []

    r = api.patch(f"/privacy/requests/{req['id']}", {"status": "done", "resolution": "erased"}, token=chain.manager_token)
    assert r.status_code == 200 and r.json["status"] == "done" and r.json["closed_at"]
    assert api.patch(f"/privacy/requests/{req['id']}", {"status": "done"}, token=chain.manager_token).status_code == 409
    bj = api.get("/privacy/requests?store=BJ001", token=chain.owner_token).json["items"][0]
    assert api.patch(f"/privacy/requests/{bj['id']}", {"status": "done"}, token=chain.manager_token).status_code == 404


def test_overdue_requests_are_the_open_ones_past_their_due_date(app, chain):
    from core.extensions import db
    from core.models import Store
    from core.privacy.requests import open_request

    with app.app_context():
        store = db.session.get(Store, chain.ids["sh"])
        old = open_request(db.session, store, "export", received_at=datetime.now(timezone.utc) - timedelta(days=31))
        open_request(db.session, store, "access")
        db.session.commit()
        old_id = old.id
    items = Api(app.test_client()).get("/privacy/requests?overdue=true", token=chain.manager_token).json["items"]
    assert [q["id"] for q in items] == [old_id]


def test_retention_erases_inactive_customers_of_that_store_only(app, chain):
    from core.extensions import db
    from core.jobs import collect_periodic_jobs
    from core.models import Customer
    from core.privacy.retention import purge_expired

    api = Api(app.test_client())
    ids = {}
    for name, phone, store in [("old", "13600000001", "SH001"), ("active", "13600000002", "SH001"),
                               ("other store", "13600000003", "BJ001")]:
        ids[name] = api.post("/customers", {"name": name, "phone": phone, "store": store}, token=chain.owner_token).json["id"]
    assert api.put("/privacy/retention", {"store": "SH001", "retention_days": 7}, token=chain.owner_token).status_code == 400
    assert api.put("/privacy/retention", {"store": "SH001", "retention_days": 365}, token=chain.manager_token).status_code == 403
    r = api.put("/privacy/retention", {"store": "SH001", "retention_days": 365}, token=chain.owner_token)
    assert r.status_code == 200 and r.json == {"store": "SH001", "retention_days": 365}
    assert api.get("/privacy/retention", token=chain.manager_token).json["retention_days"] == 365

    long_ago = datetime.now(timezone.utc) - timedelta(days=400)
    with app.app_context():
        for customer in db.session.scalars(select(Customer)):
            customer.created_at = customer.updated_at = long_ago
        db.session.commit()
    # a sale last month keeps "active"; BJ001 keeps its data (no retention set there)
    api.post("/sales", {"customer": {"id": ids["active"]}, "lines": [{"sku": "LATTE-M", "quantity": 1}],
                        "occurred_at": (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()}, token=chain.till)
    with app.app_context():
        db.session.get(Customer, ids["active"]).updated_at = long_ago
        db.session.commit()
        assert purge_expired(db.session) == 1
        db.session.commit()
        assert purge_expired(db.session) == 0
        erased = {c.id: c for c in db.session.scalars(select(Customer).where(Customer.erased_at.is_not(None)))}
        assert list(erased) == [ids["old"]] and erased[ids["old"]].phone is None
        jobs = {job.name: job for job in collect_periodic_jobs(app).jobs}
        assert jobs["core.privacy_retention"].cron
    rows = api.get("/audit?action=erase", token=chain.owner_token).json["items"]
    assert rows[0]["actor"] == "retention" and "365 days" in rows[0]["details"]["reason"]


def test_purge_command_runs_the_retention_now(app, chain):
    from core.cli import cli
    from core.extensions import db
    from core.models import Customer

    api = Api(app.test_client())
    customer_id = api.post("/customers", {"name": "久未到店", "phone": "13600000009"}, token=chain.till).json["id"]
    api.put("/privacy/retention", {"store": "SH001", "retention_days": 90}, token=chain.owner_token)
    runner = app.test_cli_runner()
    assert "0 inactive customers erased" in runner.invoke(cli, ["privacy", "purge-expired"]).output
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        customer.created_at = customer.updated_at = datetime.now(timezone.utc) - timedelta(days=91)
        db.session.commit()
    assert "1 inactive customers erased" in runner.invoke(cli, ["privacy", "purge-expired"]).output
    assert api.get(f"/customers/{customer_id}", token=chain.owner_token).status_code == 404
