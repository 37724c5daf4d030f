"""Complaint tickets: making one (with its deadlines and the automatic acknowledgement), the
state machine with its history, assignment, and the visibility rule for loading one."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from core.access import customer_or_404
from core.errors import NotFound, Unprocessable
from core.models import Customer, Sale, User, utcnow
from core.services.customers import add_activity
from core.webhooks import emit_event
from plugins.feedback.labels import CATEGORY_LABELS, STATE_LABELS, label
from plugins.feedback.models import OPEN_STATES, TRANSITIONS, Complaint, ComplaintTransition, Survey
from plugins.feedback.services import messages
from plugins.feedback.services.sla import deadlines, sla_state

_CALLER = object()


# --- loading -----------------------------------------------------------------------------------------

def complaint_or_404(session, complaint_id: int, store, *, customer_store_ids=_CALLER, lock: bool = False) -> Complaint:
    """The complaint of `store`, or 404: another store's ticket, or one about a customer the
    caller does not see, is "not found" (an id is never a capability)."""
    stmt = select(Complaint).where(Complaint.id == complaint_id, Complaint.store_id == store.id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    complaint = session.scalars(stmt).first() if 0 < complaint_id < 2**31 else None
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    if complaint.customer_id is not None:
        kwargs = {} if customer_store_ids is _CALLER else {"store_ids": customer_store_ids}
        try:
            customer_or_404(complaint.customer_id, session=session, **kwargs)
        except NotFound:
            raise NotFound(f"complaint {complaint_id} not found") from None
    return complaint


def check_links(session, store, *, customer: Customer | None, sale_id=None, staff_ids=()) -> Sale | None:
    """A named sale must be this store's (and the customer's); named staff must work here."""
    sale = None
    if sale_id is not None:
        sale = session.get(Sale, sale_id) if 0 < sale_id < 2**31 else None
        if sale is None or sale.store_id != store.id or (customer is not None and sale.customer_id not in (None, customer.id)):
            raise Unprocessable(_("That sale is not one of this store's sales to this customer."),
                                fields={"sale_id": [_("Not a sale of this store to this customer.")]})
    for field, user_id in staff_ids:
        if user_id is None:
            continue
        user = session.get(User, user_id) if 0 < user_id < 2**31 else None
        if user is None or not user.active or not user.can_access_store(store.id):
            raise Unprocessable(_("That staff member does not work in this store."),
                                fields={field: [_("Not a staff member of this store.")]})
    return sale


# --- making one ----------------------------------------------------------------------------------------

def create_complaint(session, ctx, *, store, settings: dict, category: str, description: str, customer=None,
                     sale_id=None, staff_id=None, assignee_id=None, channel="counter", user=None, actor="system",
                     now: datetime | None = None) -> Complaint:
    """A new ticket with its deadlines from the store's settings, its first history row, and the
    customer's acknowledgement: through a channel owner (campaigns) when one takes it, else as an
    activity on the customer's timeline."""
    now = now or utcnow()
    sale = check_links(session, store, customer=customer, sale_id=sale_id,
                       staff_ids=(("staff_id", staff_id), ("assignee_id", assignee_id)))
    if staff_id is None and sale is not None:
        staff_id = sale.staff_id  # a complaint about a sale is about who served it
    first_due, resolution_due = deadlines(now, settings)
    complaint = Complaint(store_id=store.id, customer_id=customer.id if customer else None, sale_id=sale_id,
                          staff_id=staff_id, assignee_id=assignee_id, channel=channel, category=category,
                          description=description, state="new", created_at=now, first_response_due_at=first_due,
                          resolution_due_at=resolution_due, actor=actor, resolution={})
    session.add(complaint)
    session.flush()
    session.add(ComplaintTransition(complaint_id=complaint.id, from_state=None, to_state="new", note="",
                                    actor_user_id=getattr(user, "id", None), actor=actor, at=now))
    if customer is not None:
        acknowledge(session, ctx, complaint, customer, store)
    emit_event(session, store, "feedback.complaint_opened", webhook_data(complaint), customer_id=complaint.customer_id)
    return complaint


def acknowledge(session, ctx, complaint: Complaint, customer, store) -> None:
    """Seed 001: the customer hears at once that we have their complaint and by when we answer."""
    local_due = store.local(complaint.first_response_due_at).strftime("%Y-%m-%d %H:%M")
    data = {"complaint_id": complaint.id, "store": store.code, "store_name": store.name,
            "category": complaint.category, "respond_by": complaint.first_response_due_at.isoformat(),
            "respond_by_local": local_due,
            "texts": {"zh": ("我们已收到您的反馈",
                             f"{{{{ name }}}}，您在{{{{ store }}}}的反馈（编号 {complaint.id}）已收到，我们会在 {local_due} 前答复您。"),
                      "en": ("We have your complaint",
                             f"{{{{ name }}}}, we have received your complaint #{complaint.id} at {{{{ store }}}} "
                             f"and will answer by {local_due}.")}}
    if messages.notify_customer(ctx, customer, "feedback.complaint_acknowledged", data):
        complaint.acknowledgement = "notification"
        return
    add_activity(session, customer, "complaint",
                 messages.stored_text("Complaint #%(id)s received (%(category)s); we answer by %(due)s", id=complaint.id,
                                      category=CATEGORY_LABELS.get(complaint.category, complaint.category), due=local_due),
                 store=store, source="feedback", data={"complaint_id": complaint.id})
    complaint.acknowledgement = "timeline"


# --- the state machine ---------------------------------------------------------------------------------

def allowed_moves(complaint: Complaint) -> tuple[str, ...]:
    return TRANSITIONS.get(complaint.state, ())


def transition(session, ctx, complaint: Complaint, to: str, *, note: str = "", resolution: dict | None = None,
               user=None, actor: str = "system", now: datetime | None = None) -> Complaint:
    """Move the ticket to `to` or refuse with a 422 that names the moves allowed from here.
    Resolving needs what was done (apology, replacement, compensation, or a coupon)."""
    now = now or utcnow()
    allowed = allowed_moves(complaint)
    if to not in allowed:
        names = ", ".join(f"{label(STATE_LABELS, s)} ({s})" for s in allowed)
        raise Unprocessable(
            _("A complaint that is %(state)s cannot move to %(to)s; it can move to: %(allowed)s.",
              state=label(STATE_LABELS, complaint.state), to=label(STATE_LABELS, to), allowed=names),
            fields={"to": [_("Allowed: %(allowed)s", allowed=", ".join(allowed))]}, details={"allowed": list(allowed)})
    if to == "resolved":
        complaint.resolution = _resolution(session, ctx, complaint, resolution or {})
        complaint.resolved_at = now
        complaint.handled_by_id = getattr(user, "id", None)
    if complaint.first_response_at is None:
        complaint.first_response_at = now
        complaint.first_responder_id = getattr(user, "id", None)
    if to == "closed":
        complaint.closed_at = now
    if to == "in_progress" and complaint.state in ("resolved", "closed"):
        complaint.reopened_count += 1
        complaint.resolved_at = complaint.closed_at = complaint.handled_by_id = None
    session.add(ComplaintTransition(complaint_id=complaint.id, from_state=complaint.state, to_state=to, note=note or "",
                                    actor_user_id=getattr(user, "id", None), actor=actor, at=now))
    complaint.state = to
    if to == "resolved":
        owe_complaint_survey(session, complaint, now)
        emit_event(session, complaint.store_id, "feedback.complaint_resolved", webhook_data(complaint),
                   customer_id=complaint.customer_id)
    session.flush()
    return complaint


def _resolution(session, ctx, complaint: Complaint, given: dict) -> dict:
    done = {"apology": bool(given.get("apology")), "replacement": (given.get("replacement") or "").strip(),
            "compensation": (given.get("compensation") or "").strip()}
    coupon = given.get("coupon")
    if not (done["apology"] or done["replacement"] or done["compensation"] or coupon):
        raise Unprocessable(_("Say what was done to resolve it: an apology, a replacement or a compensation."),
                            fields={"resolution": [_("Give an apology, a replacement or a compensation.")]})
    if coupon:
        customer = session.get(Customer, complaint.customer_id) if complaint.customer_id else None
        if customer is None:
            raise Unprocessable(_("A coupon needs a customer on the complaint."),
                                fields={"resolution.coupon": [_("The complaint names no customer.")]})
        spec = {"kind": coupon["kind"], "value": coupon["value"], "valid_days": coupon.get("valid_days", 30),
                "reason": f"feedback.compensation:complaint:{complaint.id}"}
        if coupon.get("min_spend") is not None:
            spec["min_spend"] = coupon["min_spend"]
        answer = messages.request_coupon(ctx, customer, spec)
        if answer is None:
            raise Unprocessable(_("No module in this store issues coupons (switch campaigns on)."),
                                fields={"resolution.coupon": [_("No coupon issuer is enabled here.")]})
        done["coupon"] = {k: str(v) for k, v in answer.items()}
    return done


def owe_complaint_survey(session, complaint: Complaint, now: datetime) -> None:
    """A satisfaction survey after the resolution (sent by the survey job after the store's delay)."""
    if complaint.customer_id is None:
        return
    survey = session.scalars(select(Survey).where(Survey.complaint_id == complaint.id)).first()
    if survey is None:
        session.add(Survey(store_id=complaint.store_id, customer_id=complaint.customer_id, complaint_id=complaint.id,
                           staff_id=complaint.handled_by_id or complaint.staff_id, reason_at=now, state="pending"))
    elif survey.state != "answered":
        survey.reason_at, survey.state, survey.sent_at = now, "pending", None


def assign(session, complaint: Complaint, store, assignee_id: int | None, *, user=None, actor="system") -> None:
    check_links(session, store, customer=None, staff_ids=(("assignee_id", assignee_id),))
    complaint.assignee_id = assignee_id
    session.add(ComplaintTransition(complaint_id=complaint.id, from_state=complaint.state, to_state=complaint.state,
                                    note=messages.stored_text("Assigned to %(who)s", who=_user_name(session, assignee_id)),
                                    actor_user_id=getattr(user, "id", None), actor=actor, at=utcnow()))


def _user_name(session, user_id) -> str:
    user = session.get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user else "—"


# --- reading -------------------------------------------------------------------------------------------

def view(complaint: Complaint, now: datetime, settings: dict, *, history: bool = False) -> dict:
    out = {c: getattr(complaint, c) for c in (
        "id", "store_id", "customer_id", "sale_id", "staff_id", "assignee_id", "channel", "category", "description",
        "state", "created_at", "first_response_due_at", "resolution_due_at", "first_response_at", "resolved_at",
        "closed_at", "reopened_count", "resolution", "acknowledgement")}
    out["allowed_transitions"] = list(allowed_moves(complaint))
    out["sla_state"] = sla_state(complaint, now, settings["due_soon_hours"])
    if history:
        out["history"] = list(complaint.history)
    return out


def is_open(complaint: Complaint) -> bool:
    return complaint.state in OPEN_STATES


def webhook_data(complaint: Complaint) -> dict:
    """What webhook subscribers get about a complaint: ids and codes, no description (it may name people)."""
    return {"complaint_id": complaint.id, "customer_id": complaint.customer_id, "sale_id": complaint.sale_id,
            "category": complaint.category, "channel": complaint.channel, "state": complaint.state}
