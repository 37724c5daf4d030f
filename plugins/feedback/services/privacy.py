"""Personal data: what the plugin holds about a person, how it is forgotten, how two profiles
of one person are folded together. Every table with a customer_id is covered."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from plugins.feedback.models import Complaint, ComplaintTransition, FeedbackEntry, Survey


def _iso(value):
    return value.isoformat() if value is not None else None


def export(session, customer) -> dict | None:
    complaints = list(session.scalars(select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.id)))
    entries = list(session.scalars(select(FeedbackEntry).where(FeedbackEntry.customer_id == customer.id)
                                   .order_by(FeedbackEntry.id)))
    surveys = list(session.scalars(select(Survey).where(Survey.customer_id == customer.id).order_by(Survey.id)))
    if not (complaints or entries or surveys):
        return None
    return {
        "complaints": [{
            "id": c.id, "store_id": c.store_id, "sale_id": c.sale_id, "category": c.category,
            "description": c.description, "state": c.state, "created_at": _iso(c.created_at),
            "resolved_at": _iso(c.resolved_at), "resolution": c.resolution,
            "history": [{"from": t.from_state, "to": t.to_state, "note": t.note, "at": _iso(t.at)} for t in c.history],
        } for c in complaints],
        "feedback": [{"id": e.id, "store_id": e.store_id, "sale_id": e.sale_id, "channel": e.channel, "rating": e.rating,
                      "category": e.category, "text": e.text, "created_at": _iso(e.created_at)} for e in entries],
        "surveys": [{"id": s.id, "sale_id": s.sale_id, "complaint_id": s.complaint_id, "state": s.state,
                     "sent_at": _iso(s.sent_at), "answered_at": _iso(s.answered_at)} for s in surveys],
    }


def erase(session, customer_id: int) -> None:
    """Words the person wrote or that were written about them go; the ratings, categories and
    ticket timings stay, anonymous, so the staff's figures do not change."""
    complaint_ids = select(Complaint.id).where(Complaint.customer_id == customer_id).scalar_subquery()
    session.execute(update(ComplaintTransition).where(ComplaintTransition.complaint_id.in_(complaint_ids))
                    .values(note="").execution_options(synchronize_session=False))
    session.execute(update(Complaint).where(Complaint.customer_id == customer_id)
                    .values(customer_id=None, description="", resolution={}).execution_options(synchronize_session=False))
    session.execute(update(FeedbackEntry).where(FeedbackEntry.customer_id == customer_id)
                    .values(customer_id=None, text="").execution_options(synchronize_session=False))
    session.execute(delete(Survey).where(Survey.customer_id == customer_id).execution_options(synchronize_session=False))


def merge(session, kept, merged) -> None:
    for model in (Complaint, FeedbackEntry, Survey):
        session.execute(update(model).where(model.customer_id == merged.id).values(customer_id=kept.id)
                        .execution_options(synchronize_session=False))
