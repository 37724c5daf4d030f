"""Feedback in the admin: the complaint queue (most urgent first, overdue highlighted), the
ticket page with its history and transition buttons, a counter form for new complaints and
feedback, the feedback list, charts, and the QR code of the store's public form."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.admin.messages import describe
from core.access import customer_or_404, visible_customers
from core.admin.base import StoreModelView, StoreView, current_store, current_user_or_none, plugin_visible, scope_store_ids
from core.errors import DomainError, NotFound
from core.extensions import db
from core.models import Customer, Store, User, utcnow
from core.models.user import user_store
from core.plugins import HookContext
from core.services.priority import customer_priorities
from plugins.feedback.labels import (
    BREACH_LABELS, CATEGORY_LABELS, CHANNEL_LABELS, SLA_LABELS, STATE_LABELS, action_label, label,
)
from plugins.feedback.models import CATEGORIES, OPEN_STATES, Complaint, FeedbackEntry
from plugins.feedback.services import alerts, quality
from plugins.feedback.services import complaints as tickets
from plugins.feedback.services.feedback import record_feedback
from plugins.feedback.services.sla import next_deadline_column, sla_state

CATEGORY = _l("Feedback")


def _registry():
    return current_app.extensions["storecrm.plugins"]


def _ctx(store) -> HookContext:
    user = current_user_or_none()
    return HookContext(session=db.session, store=store, user=user, actor=user.username if user else "system",
                       registry=_registry(), plugin="feedback")


def _settings(store) -> dict:
    return _registry().settings(store, "feedback")


def _need_store():
    store = current_store()
    if store is None:
        flash(_("Pick a store in the navbar first."), "error")
    return store


def _store_staff(store) -> list[User]:
    return list(db.session.scalars(select(User).join(user_store, user_store.c.user_id == User.id)
                                   .where(user_store.c.store_id == store.id, User.active.is_(True)).order_by(User.id)))


def _visible_stmt(stmt, column):
    store_ids = scope_store_ids()
    seen = select(Customer.id).where(visible_customers(store_ids))
    return stmt.where(column.is_(None) | column.in_(seen))


def _int(value):
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _priority_first(rows: list[Complaint]) -> tuple[list[Complaint], set[int]]:
    """Open complaints of customers with priority service first (membership's gold members
    when the store says so, through `customer_priority`), most urgent first within each rank;
    and the ids of the complaints so raised."""
    user = current_user_or_none()
    ranks: dict[tuple[int, int], int] = {}
    for store_id in {c.store_id for c in rows}:
        got = customer_priorities(db.session, _registry(), db.session.get(Store, store_id),
                                  [c.customer_id for c in rows if c.store_id == store_id], "complaints", user=user)
        ranks.update({(store_id, cid): rank for cid, rank in got.items()})
    ordered = sorted(rows, key=lambda c: -ranks.get((c.store_id, c.customer_id), 0))  # stable: deadline order kept
    return ordered, {c.id for c in rows if (c.store_id, c.customer_id) in ranks}


def common() -> dict:
    return {"STATE_LABELS": STATE_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS, "SLA_LABELS": SLA_LABELS,
            "CHANNEL_LABELS": CHANNEL_LABELS, "BREACH_LABELS": BREACH_LABELS, "label": label,
            "action_label": action_label, "categories": CATEGORIES}


class ComplaintQueueView(StoreView):
    """The queue and the ticket pages (one view: they share the store and the visibility rule)."""

    plugin = "feedback"

    @expose("/")
    def index(self):
        now = utcnow()
        show = request.args.get("show", "open")
        store_ids = scope_store_ids()
        stmt = _visible_stmt(select(Complaint).where(Complaint.store_id.in_(store_ids)), Complaint.customer_id)
        if show == "open":
            stmt = stmt.where(Complaint.state.in_(OPEN_STATES)).order_by(next_deadline_column(), Complaint.id)
        else:
            stmt = stmt.order_by(Complaint.id.desc())
        rows = list(db.session.scalars(stmt.limit(200)))
        first = set()
        if show == "open":
            rows, first = _priority_first(rows)
        store = current_store()
        due_soon = _settings(store)["due_soon_hours"] if store else 4
        queue = [{"c": c, "sla": sla_state(c, now, due_soon), "priority": c.id in first,
                  "deadline": c.first_response_due_at if c.first_response_at is None else c.resolution_due_at}
                 for c in rows]
        return self.render("feedback/queue.html", queue=queue, show=show, now=now,
                           alerts=alerts.open_alerts(db.session, store_ids), **common())

    def _complaint(self, complaint_id: int, lock=False) -> Complaint:
        """A ticket of the stores this page covers, about a customer they see; else 404."""
        stmt = select(Complaint.store_id).where(Complaint.id == complaint_id, Complaint.store_id.in_(scope_store_ids()))
        store_id = db.session.scalar(stmt) if complaint_id < 2**31 else None
        if store_id is None:
            abort(404)
        try:
            return tickets.complaint_or_404(db.session, complaint_id, db.session.get(Store, store_id),
                                            customer_store_ids=scope_store_ids(), lock=lock)
        except NotFound:
            abort(404)

    @expose("/<int:complaint_id>")
    def ticket(self, complaint_id: int):
        complaint = self._complaint(complaint_id)
        settings = _settings(complaint.store)
        customer = db.session.get(Customer, complaint.customer_id) if complaint.customer_id else None
        return self.render("feedback/ticket.html", c=complaint, customer=customer, now=utcnow(),
                           sla=sla_state(complaint, utcnow(), settings["due_soon_hours"]),
                           moves=tickets.allowed_moves(complaint), staff=_store_staff(complaint.store),
                           users={u.id: u for u in _store_staff(complaint.store)}, **common())

    @expose("/<int:complaint_id>/move", methods=["POST"])
    def move(self, complaint_id: int):
        complaint = self._complaint(complaint_id, lock=True)
        user = current_user_or_none()
        to = request.form.get("to", "")
        resolution = None
        if to == "resolved":
            resolution = {"apology": bool(request.form.get("apology")), "replacement": request.form.get("replacement", ""),
                          "compensation": request.form.get("compensation", "")}
            if request.form.get("coupon_value"):
                resolution["coupon"] = {"kind": request.form.get("coupon_kind", "amount"),
                                        "value": request.form.get("coupon_value"), "valid_days": 30}
        try:
            tickets.transition(db.session, _ctx(complaint.store), complaint, to, note=request.form.get("note", "")[:2000],
                               resolution=resolution, user=user, actor=user.username)
            db.session.commit()
            flash(_("The complaint is now %(state)s.", state=label(STATE_LABELS, to)), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(describe(exc), "error")
        return redirect(url_for(".ticket", complaint_id=complaint_id))

    @expose("/<int:complaint_id>/assign", methods=["POST"])
    def assign(self, complaint_id: int):
        complaint = self._complaint(complaint_id, lock=True)
        user = current_user_or_none()
        try:
            tickets.assign(db.session, complaint, complaint.store, _int(request.form.get("assignee_id")), user=user,
                           actor=user.username)
            db.session.commit()
            flash(_("Assigned."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(describe(exc), "error")
        return redirect(url_for(".ticket", complaint_id=complaint_id))

    @expose("/new", methods=["GET", "POST"])
    def new(self):
        """A complaint or a comment-book entry taken at the counter."""
        store = current_store()
        kind = request.values.get("kind", "complaint")
        customer_id = _int(request.values.get("customer_id"))
        if request.method == "POST" and _need_store() is not None:
            user = current_user_or_none()
            try:
                customer = _counter_customer(customer_id)
                category = request.form.get("category", "")
                if category not in CATEGORIES:
                    raise DomainError(_("Choose a category."))
                text = (request.form.get("text") or "").strip()[:4000]
                if kind == "complaint":
                    if not text:
                        raise DomainError(_("Describe the complaint."))
                    made = tickets.create_complaint(
                        db.session, _ctx(store), store=store, settings=_settings(store), category=category,
                        description=text, customer=customer, sale_id=_int(request.form.get("sale_id")),
                        staff_id=_int(request.form.get("staff_id")), assignee_id=_int(request.form.get("assignee_id")),
                        user=user, actor=user.username)
                    db.session.commit()
                    flash(_("Complaint #%(id)s recorded.", id=made.id), "success")
                    return redirect(url_for(".ticket", complaint_id=made.id))
                rating = _int(request.form.get("rating"))
                if rating is None or not 1 <= rating <= 5:
                    raise DomainError(_("Choose from 1 to 5 stars."))
                record_feedback(db.session, store, rating=rating, category=category, text=text,
                                channel=request.form.get("channel") if request.form.get("channel") in CHANNEL_LABELS
                                else "comment_book", customer=customer, sale_id=_int(request.form.get("sale_id")),
                                staff_id=_int(request.form.get("staff_id")), actor=user.username)
                db.session.commit()
                flash(_("Feedback recorded."), "success")
                return redirect(url_for("feedback_entries.index_view"))
            except DomainError as exc:
                db.session.rollback()
                flash(describe(exc), "error")
        return self.render("feedback/new.html", kind=kind, customer_id=customer_id,
                           staff=_store_staff(store) if store else [], form=request.form, **common())


def _counter_customer(customer_id: int | None) -> Customer | None:
    """The customer the form names, if this store sees them; otherwise a readable refusal (the
    same words for an unknown id and another store's customer)."""
    if not customer_id:
        return None
    try:
        return customer_or_404(customer_id)
    except NotFound:
        raise DomainError(_("No such customer here.")) from None


def _text(view, context, model, name):
    return Markup('<span class="feedback-text">{}</span>').format(getattr(model, name) or "")


class FeedbackEntryView(StoreModelView):
    plugin = "feedback"
    store_column = "store_id"
    can_create = can_edit = can_delete = False
    column_list = ["created_at", "rating", "category", "channel", "text", "customer", "staff"]
    column_labels = {"created_at": _l("When"), "rating": _l("Rating"), "category": _l("Category"),
                     "channel": _l("Channel"), "text": _l("Text"), "customer": _l("Customer"), "staff": _l("Staff")}
    column_formatters = {
        "category": lambda v, c, m, n: label(CATEGORY_LABELS, m.category),
        "channel": lambda v, c, m, n: label(CHANNEL_LABELS, m.channel),
        "rating": lambda v, c, m, n: "★" * m.rating + "☆" * (5 - m.rating),
        "customer": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            url_for("customers.page", customer_id=m.customer_id), m.customer.name or m.customer_id) if m.customer else "",
        "text": _text,
    }
    column_default_sort = ("id", True)

    def scope_query(self, query):
        seen = select(Customer.id).where(visible_customers(scope_store_ids()))
        return query.filter(FeedbackEntry.customer_id.is_(None) | FeedbackEntry.customer_id.in_(seen))


class ChartsView(StoreView):
    plugin = "feedback"

    @expose("/")
    def index(self):
        store = current_store()
        tz = store.timezone if store else "Asia/Shanghai"
        series = quality.weekly_series(db.session, scope_store_ids(), 12, tz, utcnow())
        categories_chart = {"type": "bar", "labels": series["weeks"], "datasets": [
            {"label": label(CATEGORY_LABELS, c), "data": data, "stack": "c"} for c, data in sorted(series["categories"].items())]}
        rating_chart = {"type": "line", "labels": series["weeks"], "datasets": [
            {"label": _("Average rating"), "data": series["ratings"], "type": "line"},
            {"label": _("Ratings"), "data": series["counts"], "type": "bar", "yAxisID": "y1"}]}
        return self.render("feedback/charts.html", categories_chart=categories_chart, rating_chart=rating_chart)


class QrView(StoreView):
    plugin = "feedback"

    @expose("/")
    def index(self):
        import segno

        store = current_store()
        if store is None:
            return self.render("feedback/qr.html", store=None, svg=None, url=None)
        url = url_for("feedback_public.form", code=store.code, _external=True)
        svg = segno.make(url, error="m").svg_inline(scale=6, title=store.name)
        return self.render("feedback/qr.html", store=store, svg=Markup(svg), url=url)


def _open_complaint_filter(stmt=None, value=None, store_ids=None):
    """The customer list's "open complaint" filter, through the core's existing hook for extra
    list filters (`storecrm.class_filters`): no change to the core's list view. Called with a
    statement (the API's shape) it narrows it; called bare (the admin's) it makes the filter."""
    from flask_admin.contrib.sqla.filters import BaseSQLAFilter

    if stmt is not None:
        flagged = Customer.id.in_(quality.customers_with_open_last_complaint())
        return stmt.where(flagged if str(value) in ("1", "true") else ~flagged)
    if not plugin_visible("feedback"):
        return None

    class OpenComplaintFilter(BaseSQLAFilter):
        def apply(self, query, value, alias=None):
            flagged = Customer.id.in_(quality.customers_with_open_last_complaint())
            return query.filter(flagged if value == "1" else ~flagged)

        def operation(self):
            return _l("is")

    return OpenComplaintFilter(Customer.id, _l("Last complaint unresolved"),
                               options=[("1", _l("Yes")), ("0", _l("No"))])


def register(admin, app) -> None:
    admin.add_view(ComplaintQueueView(name=_l("Complaints"), category=CATEGORY, endpoint="feedback_complaints",
                                      url="/admin/feedback/complaints"))
    admin.add_view(FeedbackEntryView(FeedbackEntry, db, name=_l("Feedback"), category=CATEGORY,
                                     endpoint="feedback_entries", url="/admin/feedback/entries"))
    admin.add_view(ChartsView(name=_l("Charts"), category=CATEGORY, endpoint="feedback_charts",
                              url="/admin/feedback/charts"))
    admin.add_view(QrView(name=_l("Feedback form QR code"), category=CATEGORY, endpoint="feedback_qr",
                          url="/admin/feedback/qr"))
    app.extensions.setdefault("storecrm.class_filters", {})["feedback_open_complaint"] = _open_complaint_filter
