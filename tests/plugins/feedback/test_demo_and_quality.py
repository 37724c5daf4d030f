"""`demo_seed` (idempotent, believable) and the labelled service figures staff_kpi reads."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from tests.plugins.feedback.conftest import customer, sale


def seed(app, codes=("SH001",)):
    from core.demo import _seed_plugins
    from core.extensions import db
    from core.models import Store

    with app.test_request_context():
        stores = {s.code: s for s in db.session.scalars(select(Store).where(Store.code.in_(codes)))}
        _seed_plugins(db.session, stores, random.Random(7), date.today(), echo=lambda *_: None)
        db.session.remove()


def test_the_demo_adds_believable_feedback_once(shop):
    from core.extensions import db
    from plugins.feedback.models import Complaint, FeedbackEntry

    messenger = shop.with_messenger()
    for i in range(6):
        sale(shop, customer(shop, f"1380013820{i}"), f"d-{i}", staff="alice")
    seed(shop.app)
    with shop.app.app_context():
        states = sorted(db.session.scalars(select(Complaint.state)))
        assert states == sorted(["new", "acknowledged", "in_progress", "resolved", "closed"])
        entries = db.session.scalar(select(func.count(FeedbackEntry.id)))
        assert entries == 36
        assert db.session.scalar(select(func.count(FeedbackEntry.id)).where(FeedbackEntry.sale_id.is_(None))) == 0
        assert {e.staff_id for e in db.session.scalars(select(FeedbackEntry))} == {shop.chain.ids["alice"]}
    # the other enabled implementer was called too, with the store's local date
    assert messenger.coupons == [("demo", "SH001", date.today().isoformat())]
    seed(shop.app)  # a second `storecrm demo`: nothing more
    with shop.app.app_context():
        assert db.session.scalar(select(func.count(FeedbackEntry.id))) == 36
        assert db.session.scalar(select(func.count(Complaint.id))) == 5
    from tests.plugins.feedback.conftest import login

    queue = login(shop.app, "manager").get("/admin/feedback/complaints/").get_data(as_text=True)
    assert "Overdue" in queue and "Due soon" in queue


def test_the_metrics_are_defined_with_labels_and_formats(shop):
    reg = shop.app.extensions["storecrm.plugins"]
    with shop.app.test_request_context():
        (definitions,) = [d for d in reg.call_registration("kpi_metric_definitions")
                          if d and d[0]["name"].startswith("feedback.")]
        names = [d["name"] for d in definitions]
        assert names == ["feedback.avg_rating", "feedback.ratings", "feedback.complaints_about",
                         "feedback.complaints_handled", "feedback.resolution_on_time_rate",
                         "feedback.first_response_on_time_rate"]
        assert all(str(d["label"]) and d["format"] in ("decimal", "percent", "count", "money") for d in definitions)
    with shop.app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask_babel import force_locale

        with force_locale("zh_CN"):
            assert str(definitions[4]["label"]) == "投诉处理及时率"
    # the average rating per staff member and period
    from core.extensions import db
    from core.models import Store, User
    from plugins.feedback.services.quality import staff_metrics

    for rating in (5, 4, 2):
        r = shop.api.post("/feedback/feedback", {"rating": rating, "category": "service_attitude",
                                                 "staff_id": shop.chain.ids["alice"]}, token=shop.chain.till)
        assert r.status_code == 201, r.json
    with shop.app.app_context():
        store = db.session.get(Store, shop.chain.ids["sh"])
        today = date.today()
        figures = staff_metrics(db.session, shop.chain.ids["alice"], (today - timedelta(days=1), today + timedelta(days=1)),
                                store)
        assert str(figures["feedback.avg_rating"]) == "3.67" and figures["feedback.ratings"] == 3
        before = staff_metrics(db.session, shop.chain.ids["alice"], (today - timedelta(days=9), today - timedelta(days=2)),
                               store)
        assert before["feedback.avg_rating"] is None and before["feedback.ratings"] == 0
        assert db.session.get(User, shop.chain.ids["alice"]) is not None
