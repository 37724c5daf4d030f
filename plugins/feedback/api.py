"""/api/v1/feedback/…: feedback entries and complaint tickets with their transitions.

Mounted with `core.api.plugin_blueprint`, so every route answers 404 in a store that has not
enabled feedback. Every id loads through the visibility rule: another store's ticket, or one
about a customer the caller does not see, is a 404."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import select

from core.access import caller_store_ids, customer_or_404, visible_customers
from core.api import plugin_blueprint
from core.api.http import endpoint, keyset_page, principal
from core.extensions import db
from core.models import Customer, utcnow
from core.plugins import HookContext
from plugins.feedback.models import Complaint, FeedbackEntry
from plugins.feedback.schemas import (
    ComplaintDetailOut, ComplaintIn, ComplaintOut, ComplaintQuery, FeedbackIn, FeedbackOut, FeedbackQuery, TransitionIn,
)
from plugins.feedback.services import complaints as tickets
from plugins.feedback.services.feedback import record_feedback
from plugins.feedback.services.sla import next_deadline_column, sla_clause

bp = plugin_blueprint("feedback", __name__)


def _ctx() -> HookContext:
    who = principal()
    return HookContext(session=db.session, store=g.store, user=who.user, actor=who.name,
                       registry=current_app.extensions["storecrm.plugins"], plugin="feedback")


def _settings() -> dict:
    return current_app.extensions["storecrm.plugins"].settings(g.store, "feedback")


def _customer(customer_id):
    return customer_or_404(customer_id) if customer_id is not None else None


def _visible(stmt, column):
    """Rows of this store about nobody or about a customer the caller sees."""
    store_ids = caller_store_ids()
    if store_ids is None:
        return stmt
    seen = select(Customer.id).where(visible_customers(store_ids))
    return stmt.where(column.is_(None) | column.in_(seen))


# --- feedback ----------------------------------------------------------------------------------------

@endpoint(bp, "/feedback", "POST", summary="Record feedback (comment book, social message, ...)", body=FeedbackIn,
          response=FeedbackOut, status=201, errors=(400, 401, 403, 404, 422))
def create_feedback(body):
    who = principal()
    entry = record_feedback(db.session, g.store, rating=body["rating"], category=body["category"], text=body["text"],
                            channel=body["channel"], customer=_customer(body.get("customer_id")),
                            sale_id=body.get("sale_id"), staff_id=body.get("staff_id"), actor=who.name)
    db.session.commit()
    return entry, 201


@endpoint(bp, "/feedback", "GET", summary="This store's feedback, oldest first (keyset pages)", query=FeedbackQuery,
          response=FeedbackOut, paginated=True, errors=(400, 401, 403, 404))
def list_feedback(args):
    stmt = _visible(select(FeedbackEntry).where(FeedbackEntry.store_id == g.store.id), FeedbackEntry.customer_id)
    if args.get("customer_id") is not None:
        customer_or_404(args["customer_id"])
        stmt = stmt.where(FeedbackEntry.customer_id == args["customer_id"])
    if args.get("category"):
        stmt = stmt.where(FeedbackEntry.category == args["category"])
    rows, next_cursor = keyset_page(stmt, FeedbackEntry.id, args.get("cursor"), args["limit"])
    return {"items": rows, "next_cursor": next_cursor}


# --- complaints --------------------------------------------------------------------------------------

@endpoint(bp, "/complaints", "POST", summary="Open a complaint ticket; the customer is acknowledged at once",
          body=ComplaintIn, response=ComplaintDetailOut, status=201, errors=(400, 401, 403, 404, 422))
def create_complaint(body):
    who = principal()
    complaint = tickets.create_complaint(
        db.session, _ctx(), store=g.store, settings=_settings(), category=body["category"],
        description=body["description"], customer=_customer(body.get("customer_id")), sale_id=body.get("sale_id"),
        staff_id=body.get("staff_id"), assignee_id=body.get("assignee_id"), channel=body["channel"], user=who.user,
        actor=who.name)
    db.session.commit()
    return tickets.view(complaint, utcnow(), _settings(), history=True), 201


@endpoint(bp, "/complaints", "GET", summary="This store's complaints, oldest first; filter by SLA state or state",
          query=ComplaintQuery, response=ComplaintOut, paginated=True, errors=(400, 401, 403, 404))
def list_complaints(args):
    settings, now = _settings(), utcnow()
    stmt = _visible(select(Complaint).where(Complaint.store_id == g.store.id), Complaint.customer_id)
    if args.get("sla"):
        stmt = stmt.where(sla_clause(args["sla"], now, settings["due_soon_hours"]))
    if args.get("state"):
        stmt = stmt.where(Complaint.state == args["state"])
    if args.get("customer_id") is not None:
        customer_or_404(args["customer_id"])
        stmt = stmt.where(Complaint.customer_id == args["customer_id"])
    rows, next_cursor = keyset_page(stmt, Complaint.id, args.get("cursor"), args["limit"])
    return {"items": [tickets.view(c, now, settings) for c in rows], "next_cursor": next_cursor}


@endpoint(bp, "/complaints/<int:complaint_id>", "GET", summary="A complaint with its history",
          response=ComplaintDetailOut, errors=(401, 403, 404))
def get_complaint(complaint_id):
    complaint = tickets.complaint_or_404(db.session, complaint_id, g.store)
    return tickets.view(complaint, utcnow(), _settings(), history=True)


@endpoint(bp, "/complaints/<int:complaint_id>/transitions", "POST",
          summary="Move a complaint (new → acknowledged → in_progress → resolved → closed; reopen to in_progress); "
                  "an illegal move is a 422 naming the allowed ones",
          body=TransitionIn, response=ComplaintDetailOut, errors=(400, 401, 403, 404, 422))
def move_complaint(complaint_id, body):
    who = principal()
    complaint = tickets.complaint_or_404(db.session, complaint_id, g.store, lock=True)
    tickets.transition(db.session, _ctx(), complaint, body["to"], note=body["note"], resolution=body.get("resolution"),
                       user=who.user, actor=who.name)
    db.session.commit()
    return tickets.view(complaint, utcnow(), _settings(), history=True)


__all__ = ["bp", "next_deadline_column"]
