"""The owner's webhooks page: subscriptions (make, pause, remove; the secret shown once) and
their deliveries (status, last error, replay)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.admin.base import StoreView, current_user_or_none
from core.audit import audit
from core.errors import DomainError
from core.extensions import db
from core.models import Store, WebhookDelivery, WebhookSubscription
from core.roles import may, role_for
from core.webhooks import sender
from core.webhooks import services as svc
from core.webhooks.catalogue import event_types

STATUS_LABELS = {"pending": _l("Waiting to be sent"), "retrying": _l("Retrying"), "delivered": _l("Delivered"),
                 "failed": _l("Failed")}
URL_REASONS = {"invalid": _l("The address must start with http:// or https:// and name a host."),
               "unresolvable": _l("The host of this address cannot be found."),
               "private": _l("This address is on a private, loopback or link-local network; this installation does "
                             "not send webhooks there.")}


class WebhooksView(StoreView):
    min_role = role_for("webhooks.manage")

    def _render(self, status=200, form=None, errors=None, secret=None):
        subscriptions = db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
        wanted = request.args.get("status")
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(100)
        if wanted in STATUS_LABELS:
            query = query.where(WebhookDelivery.status == wanted)
        deliveries = db.session.scalars(query).all()
        return self.render("storecrm/webhooks.html", subscriptions=subscriptions, deliveries=deliveries,
                           types=event_types(), stores=db.session.scalars(select(Store).order_by(Store.code)).all(),
                           status_labels=STATUS_LABELS, wanted=wanted, form=form or {}, errors=errors or {},
                           secret=secret), status

    @expose("/")
    def index(self):
        return self._render()

    @expose("/subscribe", methods=["POST"])
    def subscribe(self):
        user = current_user_or_none()
        form = {"url": request.form.get("url", "").strip(), "store": request.form.get("store") or None,
                "event_types": request.form.getlist("event_types"), "description": request.form.get("description", ""),
                "personal_data": bool(request.form.get("personal_data"))}
        try:
            subscription, secret = svc.create_subscription(db.session, form, user=user)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = {}
            if "url" in (exc.fields or {}):
                errors["url"] = URL_REASONS.get((exc.details or {}).get("reason"), URL_REASONS["invalid"])
            if "event_types" in (exc.fields or {}):
                errors["event_types"] = _("Tick at least one event.")
            if "store" in (exc.fields or {}):
                errors["store"] = _("Unknown store.")
            return self._render(status=400, form=form, errors=errors or {"url": URL_REASONS["invalid"]})
        flash(_("Subscribed. Copy the signing secret now: it is not shown again."), "success")
        return self._render(secret={"id": subscription.id, "value": secret})

    @expose("/<int:subscription_id>/toggle", methods=["POST"])
    def toggle(self, subscription_id: int):
        subscription = svc.subscription_or_404(db.session, subscription_id)
        svc.update_subscription(db.session, subscription, {"active": not subscription.active}, user=current_user_or_none())
        db.session.commit()
        flash(_("Subscription resumed.") if subscription.active else _("Subscription paused."), "success")
        return redirect(url_for(".index"))

    @expose("/<int:subscription_id>/delete", methods=["POST"])
    def delete(self, subscription_id: int):
        subscription = svc.subscription_or_404(db.session, subscription_id)
        svc.delete_subscription(db.session, subscription, user=current_user_or_none())
        db.session.commit()
        flash(_("Subscription removed, with its deliveries."), "success")
        return redirect(url_for(".index"))

    @expose("/deliveries/<int:webhook_delivery_id>/replay", methods=["POST"])
    def replay(self, webhook_delivery_id: int):
        delivery_id = webhook_delivery_id
        if not may(current_user_or_none(), "webhooks.replay"):
            abort(403)
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            abort(404)
        sender.replay(db.session, delivery)
        audit("webhook_replay", actor=current_user_or_none(), target=("webhook_delivery", delivery_id))
        db.session.commit()
        sender.send_soon()
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery.status == "delivered":
            flash(_("Sent again and received."), "success")
        else:
            flash(_("Sent again; the receiver did not accept it yet: it is retried automatically."), "error")
        return redirect(url_for(".index"))


def register(admin) -> None:
    admin.add_view(WebhooksView(name=_l("Webhooks"), category=_l("Settings"), endpoint="webhooks", url="/admin/webhooks",
                                menu_icon_type="fa", menu_icon_value="fa-paper-plane"))
