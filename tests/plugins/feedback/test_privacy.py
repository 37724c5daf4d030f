"""Export, erasure and merge of a customer with complaints, feedback and surveys."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.plugins.feedback.conftest import complain, customer, move, sale
from tests.privacy.helpers import find_in_database

WORDS = "王晓明说拿铁里有头发"


def test_export_erasure_and_merge_cover_every_feedback_table(shop):
    from core.extensions import db
    from plugins.feedback.models import Complaint, ComplaintTransition, FeedbackEntry, Survey

    cid = customer(shop, name="王晓明")
    sold = sale(shop, cid, "p-1", staff="alice")
    ticket = complain(shop, cid, description=WORDS, sale_id=sold["id"])
    move(shop, ticket["id"], "acknowledged", note=f"回电 {WORDS}")
    move(shop, ticket["id"], "resolved", resolution={"apology": True, "replacement": f"给王晓明换一杯"})
    r = shop.api.post("/feedback/feedback", {"customer_id": cid, "rating": 2, "category": "product_quality",
                                             "text": WORDS, "sale_id": sold["id"]}, token=shop.chain.till)
    assert r.status_code == 201, r.json

    export = shop.api.get(f"/customers/{cid}/export", token=shop.chain.manager_token).json["plugins"]["feedback"]
    assert [c["description"] for c in export["complaints"]] == [WORDS]
    assert [h["to"] for h in export["complaints"][0]["history"]] == ["new", "acknowledged", "resolved"]
    assert [f["text"] for f in export["feedback"]] == [WORDS]
    assert {s["sale_id"] for s in export["surveys"]} == {sold["id"], None}

    # merge: a second profile's complaint moves to the kept one
    other = customer(shop, "13700137000", name="王晓明 (旧卡)")
    old = complain(shop, other, description="旧卡的投诉")
    r = shop.api.post(f"/customers/{cid}/merge", {"merge_id": other}, token=shop.chain.manager_token)
    assert r.status_code == 200, r.json
    with shop.app.app_context():
        assert db.session.get(Complaint, old["id"]).customer_id == cid

    # erasure: the words go, the ratings and ticket timings stay for the staff's figures
    assert shop.api.delete(f"/customers/{cid}", token=shop.chain.manager_token).status_code == 200
    assert [hit for hit in find_in_database(shop.app, [WORDS, "王晓明"]) if hit[0].startswith("feedback_")] == []
    with shop.app.app_context():
        for model in (Complaint, FeedbackEntry, Survey):
            assert db.session.scalar(select(func.count()).select_from(model).where(model.customer_id == cid)) == 0
        assert db.session.scalar(select(func.count(Complaint.id))) == 2  # kept, anonymous
        assert db.session.get(Complaint, ticket["id"]).resolved_at is not None
        assert {t.note for t in db.session.scalars(select(ComplaintTransition).where(
            ComplaintTransition.complaint_id == ticket["id"]))} == {""}
        assert db.session.scalars(select(FeedbackEntry)).one().rating == 2
