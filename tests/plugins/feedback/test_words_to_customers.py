"""What a customer reads when feedback speaks to them through campaigns' channels: the
acknowledgement of a complaint and the survey invitation, in the customer's language, with the
deadline and the survey link in the text, never a topic code or an empty body."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Store
from tests.conftest import enable
from tests.plugins.campaigns.conftest import FAST, Shop
from tests.plugins.feedback.conftest import complain, move

# The words are built in Python, the rows are plain inserts: one backend.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def both(app, chain):
    enable(app, "SH001", "feedback", "campaigns")
    shop = Shop(app, chain)
    shop.settings(**FAST)
    return shop


def messages(app, customer_id) -> list[tuple[str, str, str]]:
    from plugins.campaigns.models import Message

    with app.app_context():
        rows = db.session.execute(select(Message.topic, Message.subject, Message.body)
                                  .where(Message.customer_id == customer_id).order_by(Message.id)).all()
        db.session.rollback()
    return [tuple(r) for r in rows]


def test_a_complaint_is_acknowledged_in_the_customers_language_with_its_deadline(both):
    zh = both.customer("王芳", consent=("sms", "email"))
    en = both.customer("Anna", consent=("sms", "email"), preferences={"language": "en"})
    for who in (zh, en):
        made = complain(both, who)
        assert made["acknowledgement"] == "notification"
    (topic, subject, body), = messages(both.app, zh)
    assert topic == "feedback.complaint_acknowledged" and subject == "我们已收到您的反馈"
    with both.app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        due = store.local(datetime.fromisoformat(made["first_response_due_at"])).strftime("%Y-%m-%d %H:%M")
    assert body.startswith(f"王芳，您在上海南京路店的反馈（编号 {made['id'] - 1}）已收到，我们会在 {due} 前答复您。")
    (_, subject, body), = messages(both.app, en)
    assert subject == "We have your complaint"
    assert body.startswith(f"Anna, we have received your complaint #{made['id']} at 上海南京路店 and will answer by {due}.")


def test_survey_invitations_carry_their_link(both):
    from plugins.feedback.services.surveys import send_due_surveys

    who = both.customer("李雷", consent=("sms", "email"))
    sold = both.sell(who)
    ticket = complain(both, who)
    done = move(both, ticket["id"], "resolved", resolution={"apology": True})
    later = datetime.fromisoformat(done["resolved_at"]) + timedelta(days=10)  # both are due
    with both.app.test_request_context(), both.app.app_context():
        counts = send_due_surveys(db.session, both.app.extensions["storecrm.plugins"], now=later)
        db.session.remove()
    assert counts["sent"] == 2, (counts, sold["id"])
    sent = {topic: (subject, body) for topic, subject, body in messages(both.app, who)}
    subject, body = sent["feedback.survey_after_sale"]
    assert subject == "请为本次服务打分" and "李雷，感谢光临上海南京路店！请花一分钟为本次服务打分：" in body
    assert "/feedback/survey/" in body
    subject, body = sent["feedback.survey_after_complaint"]
    assert subject == "您的问题解决了吗？" and "/feedback/survey/" in body
