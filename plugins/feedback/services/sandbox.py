"""Feedback's part of a sandbox store's reset (hook `sandbox_reset`): its records go."""

from __future__ import annotations

from sqlalchemy import delete

from core.services.sandbox import delete_rows
from plugins.feedback.models import BreachAlert, Complaint, FeedbackEntry, Survey


def reset(session, store, customer_ids) -> dict[str, int]:
    """Surveys, feedback, complaints (with their transitions) and alerts of `store`."""
    return delete_rows(session, [
        ("feedback_survey", delete(Survey).where(Survey.store_id == store.id)),
        ("feedback_breach_alert", delete(BreachAlert).where(BreachAlert.store_id == store.id)),
        ("feedback_entry", delete(FeedbackEntry).where(FeedbackEntry.store_id == store.id)),
        ("feedback_complaint", delete(Complaint).where(Complaint.store_id == store.id)),
    ])
