"""SLA boundaries: exactly 24 hours and exactly 7 days, counted as elapsed time, shown on the
store's clock — in a zone without DST (Asia/Shanghai) and across both DST changes (Europe/Berlin)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.plugins.feedback.conftest import login

SECOND = timedelta(seconds=1)

# (zone, local time the complaint is made, first response due on the wall clock, resolution due on the wall clock)
CASES = [
    # no DST: the wall clock and elapsed time agree
    ("Asia/Shanghai", datetime(2026, 3, 28, 12, 0), "2026-03-29 12:00", "2026-04-04 12:00"),
    # spring forward on 29 March: 24 elapsed hours later the clock reads 13:00
    ("Europe/Berlin", datetime(2026, 3, 28, 12, 0), "2026-03-29 13:00", "2026-04-04 13:00"),
    # fall back on 25 October: 24 elapsed hours later the clock reads 11:00
    ("Europe/Berlin", datetime(2026, 10, 24, 12, 0), "2026-10-25 11:00", "2026-10-31 11:00"),
]


def make(app, zone, local_made):
    from core.extensions import db
    from core.models import Store
    from core.plugins import HookContext
    from plugins.feedback.services.complaints import create_complaint

    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        store.timezone = zone
        reg = app.extensions["storecrm.plugins"]
        ctx = HookContext(session=db.session, store=store, registry=reg, plugin="feedback")
        made = local_made.replace(tzinfo=ZoneInfo(zone))
        complaint = create_complaint(db.session, ctx, store=store, settings=reg.settings(store, "feedback"),
                                     category="price", description="太贵", now=made)
        db.session.commit()
        return complaint.id, made, complaint.first_response_due_at, complaint.resolution_due_at


def count_in(app, state, now, complaint_id=None):
    from core.extensions import db
    from plugins.feedback.models import Complaint
    from plugins.feedback.services.sla import sla_clause

    with app.app_context():
        stmt = select(func.count(Complaint.id)).where(sla_clause(state, now, 4))
        if complaint_id is not None:
            stmt = stmt.where(Complaint.id == complaint_id)
        return db.session.scalar(stmt)


def test_deadlines_are_elapsed_time_and_the_boundary_is_still_in_time(shop):
    for case in CASES:
        check_boundaries(shop, *case)


def check_boundaries(shop, zone, local_made, first_local, resolution_local):
    from core.extensions import db
    from plugins.feedback.models import Complaint
    from plugins.feedback.services.complaints import transition
    from plugins.feedback.services.sla import sla_state

    complaint_id, made, first_due, resolution_due = make(shop.app, zone, local_made)
    assert first_due - made == timedelta(hours=24) and resolution_due - made == timedelta(days=7)
    tz = ZoneInfo(zone)
    assert first_due.astimezone(tz).strftime("%Y-%m-%d %H:%M") == first_local
    assert resolution_due.astimezone(tz).strftime("%Y-%m-%d %H:%M") == resolution_local
    # the ticket page shows the boundary on the store's clock
    page = login(shop.app, "manager").get(f"/admin/feedback/complaints/{complaint_id}").get_data(as_text=True)
    assert first_local in page and resolution_local in page

    with shop.app.app_context():
        c = db.session.get(Complaint, complaint_id)
        assert sla_state(c, first_due - timedelta(hours=4, seconds=1)) == "on_track"
        assert sla_state(c, first_due - timedelta(hours=4)) == "due_soon"
        assert sla_state(c, first_due) == "due_soon"  # exactly 24 hours: still in time
        assert sla_state(c, first_due + SECOND) == "overdue"
    # the SQL filter (queue, API ?sla=) draws the line at the same instant
    one = complaint_id
    assert (count_in(shop.app, "overdue", first_due, one), count_in(shop.app, "due_soon", first_due, one)) == (0, 1)
    assert (count_in(shop.app, "overdue", first_due + SECOND, one),
            count_in(shop.app, "due_soon", first_due + SECOND, one)) == (1, 0)

    with shop.app.app_context():
        c = db.session.get(Complaint, complaint_id)
        ctx = None
        transition(db.session, ctx, c, "acknowledged", now=first_due)  # answered at exactly 24 h
        assert sla_state(c, resolution_due) == "due_soon"
        assert sla_state(c, resolution_due + SECOND) == "overdue"
        transition(db.session, ctx, c, "resolved", resolution={"apology": True}, now=resolution_due)  # exactly 7 days
        assert sla_state(c, resolution_due + timedelta(days=30)) == "met"
        db.session.commit()
    assert count_in(shop.app, "met", resolution_due, complaint_id) == 1


def test_one_second_late_is_missed_and_deadlines_follow_the_settings(shop):
    from core.extensions import db
    from plugins.feedback.models import Complaint
    from plugins.feedback.services.complaints import transition
    from plugins.feedback.services.sla import sla_state

    complaint_id, made, first_due, resolution_due = make(shop.app, "Europe/Berlin", datetime(2026, 3, 28, 12, 0))
    with shop.app.app_context():
        c = db.session.get(Complaint, complaint_id)
        transition(db.session, None, c, "acknowledged", now=first_due + SECOND)
        transition(db.session, None, c, "resolved", resolution={"apology": True}, now=first_due + timedelta(hours=1))
        assert sla_state(c, resolution_due) == "missed"  # resolved in time, but the first answer came late
        db.session.commit()
    assert count_in(shop.app, "missed", resolution_due) == 1 and count_in(shop.app, "met", resolution_due) == 0
    # a store that promises faster answers
    from core.models import Store
    from core.services.store_plugins import update_settings

    with shop.app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        update_settings(db.session, store, "feedback", {"first_response_hours": 2, "resolution_days": 3}, actor="test")
        db.session.commit()
    made = shop.api.post("/feedback/complaints", {"category": "other", "description": "x"}, token=shop.chain.till).json
    created = datetime.fromisoformat(made["created_at"])
    assert datetime.fromisoformat(made["first_response_due_at"]) - created == timedelta(hours=2)
    assert datetime.fromisoformat(made["resolution_due_at"]) - created == timedelta(days=3)
