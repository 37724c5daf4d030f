"""SLA breach alerts: one per complaint and deadline, to the store's managers through
`staff_notification` when a channel owner is enabled, always as an alert row and a dashboard
tile — and still one when two workers run the job at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.plugins.feedback.conftest import complain, customer, login, move

SECOND = timedelta(seconds=1)


def run_job(app, now):
    from core.extensions import db
    from plugins.feedback.services.alerts import raise_breach_alerts

    with app.app_context():
        try:
            return raise_breach_alerts(db.session, app.extensions["storecrm.plugins"], now=now)
        finally:
            db.session.remove()


def alerts(app):
    from core.extensions import db
    from plugins.feedback.models import BreachAlert

    with app.app_context():
        return [(a.complaint_id, a.kind, a.notified) for a in db.session.scalars(select(BreachAlert).order_by(BreachAlert.id))]


def test_a_breach_raises_one_alert_to_the_managers_and_never_again(shop):
    from datetime import datetime

    messenger = shop.with_messenger()
    ticket = complain(shop, customer(shop))
    first_due = datetime.fromisoformat(ticket["first_response_due_at"])
    resolution_due = datetime.fromisoformat(ticket["resolution_due_at"])
    assert run_job(shop.app, first_due) == 0  # exactly on the deadline: not breached yet
    assert run_job(shop.app, first_due + SECOND) == 1
    assert run_job(shop.app, first_due + timedelta(hours=1)) == 0  # the next runs add nothing
    assert alerts(shop.app) == [(ticket["id"], "first_response", True)]
    (users, topic, data), = messenger.staff_messages
    assert users == ["manager"] and topic == "feedback.sla_breach"
    assert (data["complaint_id"], data["kind"], data["store"]) == (ticket["id"], "first_response", "SH001")
    # answering late does not take the alert back; the resolution deadline is a breach of its own
    move(shop, ticket["id"], "acknowledged")
    assert run_job(shop.app, resolution_due + SECOND) == 1
    assert run_job(shop.app, resolution_due + timedelta(days=1)) == 0
    assert [a[1] for a in alerts(shop.app)] == ["first_response", "resolution"]
    assert len(messenger.staff_messages) == 2


def test_without_a_channel_the_alert_is_kept_and_resolved_tickets_or_stores_without_feedback_raise_nothing(shop):
    from datetime import datetime

    from tests.conftest import enable

    ticket = complain(shop, customer(shop))
    assert run_job(shop.app, datetime.fromisoformat(ticket["first_response_due_at"]) + SECOND) == 1
    assert alerts(shop.app) == [(ticket["id"], "first_response", False)]
    manager = login(shop.app, "manager")
    dashboard = manager.get("/admin/").get_data(as_text=True)
    assert "SLA breach alerts" in dashboard
    assert "1 SLA breach alerts on open complaints" in manager.get("/admin/feedback/complaints/").get_data(as_text=True)
    move(shop, ticket["id"], "resolved", resolution={"apology": True})

    done = complain(shop, customer(shop, "13800138099"))
    move(shop, done["id"], "resolved", resolution={"apology": True})
    enable(shop.app, "BJ001", "feedback")
    bj = shop.api.post("/feedback/complaints", {"category": "other", "description": "x"}, token=shop.chain.till_bj).json
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import disable_plugin

    with shop.app.app_context():
        disable_plugin(db.session, db.session.get(Store, shop.chain.ids["bj"]), "feedback", actor="test")
        db.session.commit()
    later = datetime.fromisoformat(bj["resolution_due_at"]) + timedelta(days=1)
    assert run_job(shop.app, later) == 0 and len(alerts(shop.app)) == 1


@pytest.mark.postgres_only
def test_two_workers_at_once_raise_one_alert(shop, backend):
    """Two job runs on their own connections, started together, while the manager's message is
    slow to send (the first run's transaction stays open): one row, one message."""
    from datetime import datetime

    if backend != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL's row-level concurrency")
    messenger = shop.with_messenger()
    messenger.slow = 0.5
    tickets = [complain(shop, customer(shop, f"1380013810{i}")) for i in range(3)]
    now = datetime.fromisoformat(tickets[-1]["first_response_due_at"]) + SECOND
    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(run_job(shop.app, now))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(results) == 3, results  # each breach raised by exactly one of the two runs
    rows = alerts(shop.app)
    assert sorted(r[0] for r in rows) == sorted(t["id"] for t in tickets)
    assert len(messenger.staff_messages) == 3
    assert sorted(m[2]["complaint_id"] for m in messenger.staff_messages) == sorted(t["id"] for t in tickets)
