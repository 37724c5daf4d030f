"""Satisfaction surveys: owed after each sale to a known customer and after each resolved
complaint, sent by the job after the store's delay through `customer_notification`, answered on
a signed public page; the answer is feedback linked to the sale and the staff member."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.plugins.feedback.conftest import complain, customer, move, sale


def send(app, now):
    from core.extensions import db
    from plugins.feedback.services.surveys import send_due_surveys

    with app.test_request_context(), app.app_context():
        try:
            return send_due_surveys(db.session, app.extensions["storecrm.plugins"], now=now)
        finally:
            db.session.remove()


def surveys(app):
    from core.extensions import db
    from plugins.feedback.models import Survey

    with app.app_context():
        return [(s.sale_id, s.complaint_id, s.state) for s in db.session.scalars(select(Survey).order_by(Survey.id))]


def test_a_sale_survey_goes_out_after_the_delay_and_its_answer_is_feedback_on_the_sale_and_staff(shop):
    from core.extensions import db
    from plugins.feedback.models import FeedbackEntry

    messenger = shop.with_messenger()
    cid = customer(shop)
    sold = sale(shop, cid, "s-1", staff="alice")
    with shop.app.app_context():  # a redelivered sale event owes nothing more
        from core.models import Sale
        from plugins.feedback.services.surveys import owe_sale_survey

        owe_sale_survey(db.session, db.session.get(Sale, sold["id"]))
        db.session.commit()
    assert surveys(shop.app) == [(sold["id"], None, "pending")]
    at = datetime.fromisoformat(sold["occurred_at"])
    assert send(shop.app, at + timedelta(days=3) - timedelta(seconds=1)) == {"sent": 0, "no_channel": 0, "skipped": 0}
    assert send(shop.app, at + timedelta(days=3))["sent"] == 1
    (to, topic, data), = messenger.customer_messages
    assert (to, topic, data["sale_id"]) == (cid, "feedback.survey_after_sale", sold["id"])
    client = shop.app.test_client()
    page = client.get(data["link_path"])
    assert page.status_code == 200 and "这次体验如何" in page.get_data(as_text=True)
    r = client.post(data["link_path"], data={"rating": "5", "category": "service_attitude", "text": "小爱很热情"})
    assert r.status_code == 200
    with shop.app.app_context():
        entry = db.session.scalars(select(FeedbackEntry)).one()
        assert (entry.channel, entry.rating, entry.sale_id, entry.staff_id, entry.customer_id) == (
            "survey", 5, sold["id"], shop.chain.ids["alice"], cid)
    # answered once; a second post changes nothing; a forged token is a 404
    assert "已填写" in client.post(data["link_path"], data={"rating": "1", "category": "price"}).get_data(as_text=True)
    assert surveys(shop.app) == [(sold["id"], None, "answered")]
    assert client.get(re.sub(r"/[^/]+$", "/1.forged", data["link_path"])).status_code == 404


def test_no_channel_gap_and_switching_surveys_off(shop):
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import update_settings

    cid = customer(shop)
    first = sale(shop, cid, "s-1")
    second = sale(shop, cid, "s-2")
    later = datetime.fromisoformat(second["occurred_at"]) + timedelta(days=4)
    # no channel owner enabled: the survey is marked, not lost silently
    assert send(shop.app, later) == {"sent": 0, "no_channel": 2, "skipped": 0}
    shop.with_messenger()
    third = sale(shop, cid, "s-3")
    fourth = sale(shop, cid, "s-4")
    counts = send(shop.app, datetime.fromisoformat(fourth["occurred_at"]) + timedelta(days=4))
    assert counts == {"sent": 1, "no_channel": 0, "skipped": 1}  # one survey per customer per 30 days
    with shop.app.app_context():
        update_settings(db.session, db.session.get(Store, shop.chain.ids["sh"]), "feedback",
                        {"survey_after_sale_days": 0}, actor="test")
        db.session.commit()
    other = customer(shop, "13800138002")
    fifth = sale(shop, other, "s-5")
    assert send(shop.app, datetime.fromisoformat(fifth["occurred_at"]) + timedelta(days=30))["skipped"] == 1
    assert [s[2] for s in surveys(shop.app)] == ["no_channel", "no_channel", "sent", "skipped", "skipped"]
    assert [s[0] for s in surveys(shop.app)] == [first["id"], second["id"], third["id"], fourth["id"], fifth["id"]]
    # after a resolved complaint (its own delay, 1 day)
    messenger = shop.messenger
    ticket = complain(shop, other)
    done = move(shop, ticket["id"], "resolved", resolution={"apology": True})
    assert surveys(shop.app)[-1] == (None, ticket["id"], "pending")
    resolved = datetime.fromisoformat(done["resolved_at"])
    assert send(shop.app, resolved + timedelta(hours=23))["sent"] == 0
    assert send(shop.app, resolved + timedelta(days=1))["sent"] == 1
    assert [m[1] for m in messenger.customer_messages][-1] == "feedback.survey_after_complaint"
