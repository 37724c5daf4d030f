"""Member events in the admin: plan one (times in the store's clock), send its invitations, see
places taken; the counter registers a member from their customer page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.access import customer_or_404
from core.admin.base import StoreView, current_store, current_user_or_none, scope_store_ids
from core.errors import DomainError, NotFound
from core.extensions import db
from core.models import utcnow
from core.plugins import HookContext
from core.roles import may, role_for
from plugins.membership import services
from plugins.membership.events import services as events
from plugins.membership.events.models import MemberEvent

UTC = ZoneInfo("UTC")


def panel(customer) -> dict | None:
    """Upcoming events the member is invited to, with a register button when their tier is open."""
    rows = events.open_for(db.session, customer.id)
    if not rows:
        return None
    html = render_template("membership/events_panel.html", customer=customer, rows=rows, now=utcnow(),
                           can_register=may(current_user_or_none(), "membership.events.register"))
    return {"title": _("Member events"), "html": Markup(html), "order": 22}


def _local(value: str, tz: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


class EventsView(StoreView):
    plugin = "membership"
    min_role = role_for("membership.events.register")

    @expose("/")
    def index(self):
        rows = list(db.session.scalars(select(MemberEvent).where(MemberEvent.store_id.in_(scope_store_ids()))
                                       .order_by(MemberEvent.starts_at.desc()).limit(50)))
        tiers = services.active_tiers(db.session)
        return self.render("membership/events.html", rows=[events.view(db.session, e) for e in rows], tiers=tiers,
                           names={t.code: t.name for t in tiers},
                           can_manage=may(current_user_or_none(), "membership.events.manage"))

    @expose("/new", methods=["POST"])
    def new(self):
        store = current_store()
        if not may(current_user_or_none(), "membership.events.manage"):
            abort(403)
        if store is None:
            flash(_("Pick a store in the navbar first: a customer is served in a store."), "error")
            return redirect(url_for(".index"))
        form = request.form
        try:
            data = {"name": (form.get("name") or "").strip(), "capacity": form.get("capacity", type=int),
                    "lowest_tier_id": form.get("lowest_tier_id", type=int), "store_id": store.id,
                    "tier_lead_days": form.get("tier_lead_days", type=int),
                    "starts_at": _local(form["starts_at"], store.timezone),
                    "registration_opens_at": _local(form["registration_opens_at"], store.timezone)}
            events.save_event(db.session, data)
            db.session.commit()
            flash(_("Event planned. Send its invitations when you are ready."), "success")
        except (KeyError, ValueError):
            db.session.rollback()
            flash(_("Give the event's start and registration times."), "error")
        except DomainError:
            db.session.rollback()
            flash(_("The event was not saved: check its name, places, tier and times."), "error")
        return redirect(url_for(".index"))

    @expose("/<int:event_id>/invite", methods=["POST"])
    def invite(self, event_id):
        if not may(current_user_or_none(), "membership.events.manage"):
            abort(403)
        from plugins.membership.hooks import notifier

        user = current_user_or_none()
        ctx = HookContext(session=db.session, store=current_store(), user=user, actor=user.username,
                          registry=current_app.extensions["storecrm.plugins"], plugin="membership")
        notify = notifier(ctx)
        try:
            result = events.invite(db.session, events.event_or_404(db.session, event_id), lambda c: notify)
        except NotFound:
            abort(404)
        db.session.commit()
        flash(_("%(invited)s members invited, %(notified)s told through a message channel.", **result), "success")
        return redirect(url_for(".index"))

    @expose("/register", methods=["POST"])
    def register(self):
        try:
            customer = customer_or_404(request.form.get("customer_id", type=int) or 0)
        except NotFound:
            abort(404)
        try:
            events.register(db.session, request.form.get("event_id", type=int) or 0, customer)
            db.session.commit()
            flash(_("Registered."), "success")
        except NotFound:
            abort(404)
        except DomainError as exc:
            db.session.rollback()
            fields = getattr(exc, "fields", {}) or {}
            if "event" in fields and exc.status == 409:
                flash(_("Not registered: every place is taken."), "error")
            elif "event" in fields:
                flash(_("Not registered: the event has started."), "error")
            elif exc.details.get("opens_at"):
                flash(_("Not registered: registration for this member's tier is not open yet."), "error")
            else:
                flash(_("Not registered: this member is not invited."), "error")
        return redirect(url_for("customers.page", customer_id=customer.id))


def register(admin, category) -> None:
    admin.add_view(EventsView(name=_l("Member events"), category=category, endpoint="membership_events",
                              url="/admin/membership/events"))
