"""Admin views over the core's records: stores, staff, API tokens, products, sales, visits,
failed event deliveries and the audit log."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import macro
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from wtforms import PasswordField, SelectField, ValidationError
from wtforms.validators import Optional

from core.admin.base import StoreModelView, current_user_or_none, scope_store_ids
from core.admin.formatting import kind_label
from core.audit import audit
from core.events import CLASSIFICATION, WEBHOOKS
from core.admin.audit_labels import action_label, target_label
from core.admin.modules import module_title
from core.extensions import db
from core.plugins import reaction_plugin
from core.models import ApiToken, AuditLog, Event, EventDelivery, Product, Sale, Store, User, Visit, utcnow
from core.models.user import ROLES

ROLE_LABELS = {"owner": _l("Owner"), "manager": _l("Manager"), "staff": _l("Staff")}


def _customer_link(view, context, model, name):
    customer = getattr(model, "customer", None)
    if customer is None:
        return Markup('<span class="text-muted">{}</span>').format(_("walk-in"))
    return Markup('<a href="{}">{}</a>').format(url_for("customers.page", customer_id=customer.id), customer.name or customer.id)


def _money(view, context, model, name):
    value = getattr(model, name)
    return "" if value is None else f"¥{value:,.2f}"


def _store_code(view, context, model, name):
    store = getattr(model, "store", None)
    return store.code if store is not None else ""


def _sandbox_cell(view, context, model, name):
    if not model.sandbox:
        return ""
    return Markup('<span class="badge badge-warning">{}</span> <a class="btn btn-sm btn-outline-danger sandbox-reset" '
                  'href="{}">{}</a>').format(_("Test store"), url_for(".reset_sandbox", store_id=model.id),
                                             _("Reset test data"))


class StoreAdmin(StoreModelView):
    can_delete = False  # a store's sales are its accounts; close it, never delete it
    column_list = ["code", "name", "timezone", "currency", "address", "sandbox", "created_at"]
    form_columns = ["code", "name", "timezone", "currency", "address", "sale_clock_ahead_minutes", "sandbox"]
    column_labels = {"code": _l("Code"), "name": _l("Store name"), "timezone": _l("Time zone"), "currency": _l("Currency"),
                     "address": _l("Address"), "created_at": _l("Opened"),
                     "sale_clock_ahead_minutes": _l("Sales may be dated ahead of now by (minutes)"),
                     "sandbox": _l("Test store (sandbox)")}
    column_descriptions = {"sandbox": _l("Its data stays out of chain figures and other stores' campaigns, and can "
                                         "be reset. For trying a till integration or training staff.")}
    column_formatters = {"sandbox": _sandbox_cell}
    column_searchable_list = ["code", "name"]

    def after_model_change(self, form, model, is_created):
        from core.webhooks.routing import forget_webhook_routes

        forget_webhook_routes()  # a sandbox's events leave chain-wide subscriptions at once here

    @expose("/sandbox-reset/<int:store_id>", methods=["GET", "POST"])
    def reset_sandbox(self, store_id: int):
        from core.admin.sandbox import reset_page

        return reset_page(self, store_id)

    def _check_timezone(form, field):  # noqa: N805 - a WTForms inline validator
        try:
            ZoneInfo(field.data or "")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(_("Unknown time zone, e.g. Asia/Shanghai.")) from exc

    form_args = {"timezone": {"validators": [_check_timezone]}}


LANGUAGE_LABELS = {"zh_CN": "中文", "en": "English"}


class UserAdmin(StoreModelView):
    can_delete = False  # staff are named on sales: deactivate instead
    column_list = ["username", "display_name", "role", "stores", "locale", "active", "created_at"]
    column_labels = {"username": _l("Username"), "display_name": _l("Name"), "role": _l("Role"), "stores": _l("Stores"),
                     "locale": _l("Language"), "active": _l("Active"), "created_at": _l("Created")}
    column_formatters = {"role": lambda v, c, m, n: ROLE_LABELS.get(m.role, m.role),
                         "stores": lambda v, c, m, n: ", ".join(s.code for s in m.stores),
                         "locale": lambda v, c, m, n: LANGUAGE_LABELS.get(m.locale, _l("Store default"))}
    column_formatters_detail = column_formatters
    form_columns = ["username", "display_name", "role", "stores", "locale", "active", "new_password"]
    form_extra_fields = {"new_password": PasswordField(_l("New password"), validators=[Optional()],
                                                      description=_l("Leave empty to keep the current one. At least 10 characters."))}
    form_overrides = {"role": SelectField, "locale": SelectField}
    form_args = {"role": {"choices": [(r, ROLE_LABELS[r]) for r in ROLES]},
                 "stores": {"get_label": lambda s: f"{s.code} · {s.name}"},
                 "locale": {"choices": [("", _l("Store default")), ("zh_CN", "中文"), ("en", "English")]}}
    column_searchable_list = ["username", "display_name"]

    def on_model_change(self, form, model, is_created):
        password = form.new_password.data
        if password:
            if len(password) < 10:
                raise ValidationError(_("The password needs at least 10 characters."))
            model.set_password(password)
        elif is_created:
            raise ValidationError(_("A new user needs a password."))
        model.locale = model.locale or None
        audit("user_create" if is_created else "user_update", actor=current_user_or_none(), target=model,
              details={"role": model.role, "password_changed": bool(password)})


class ApiTokenAdmin(StoreModelView):
    """Tokens for tills (a store) and people (a user). The raw token is shown once, at creation."""

    can_edit = False
    can_delete = False  # revoke keeps the row for the audit trail
    column_list = ["name", "prefix", "store", "user", "created_at", "last_used_at", "revoked_at"]
    column_labels = {"name": _l("Token name"), "prefix": _l("Starts with"), "store": _l("Store (till)"), "user": _l("User"),
                     "created_at": _l("Created"), "last_used_at": _l("Last used"), "revoked_at": _l("Revoked")}
    column_formatters = {"store": _store_code, "user": lambda v, c, m, n: m.user.username if m.user else ""}
    form_columns = ["name", "store", "user"]
    form_args = {"store": {"get_label": lambda s: f"{s.code} · {s.name}", "blank_text": _l("(none)")},
                 "user": {"get_label": lambda u: f"{u.display_name or u.username} ({u.username})", "blank_text": _l("(none)")}}

    def create_model(self, form):
        if (form.store.data is None) == (form.user.data is None):
            flash(_("A token belongs to exactly one store (a till) or one user."), "error")
            return False
        token, raw = ApiToken.issue(form.name.data, store=form.store.data, user=form.user.data)
        db.session.add(token)
        audit("token_create", actor=current_user_or_none(), target=("api_token", token.prefix))
        db.session.commit()
        # Only the hash is stored: this message is the one time anyone sees the token.
        flash(Markup('{} <code id="new-token">{}</code>').format(_("Copy the token now, it will not be shown again:"), raw),
              "success")
        return token

    @action("revoke", _l("Revoke"), _l("Revoke the selected tokens? Tills using them stop working at once."))
    def action_revoke(self, ids):
        tokens = db.session.scalars(select(ApiToken).where(ApiToken.id.in_([int(i) for i in ids]),
                                                           ApiToken.revoked_at.is_(None))).all()
        for token in tokens:
            token.revoked_at = utcnow()
            audit("token_revoke", actor=current_user_or_none(), target=token)
        db.session.commit()
        flash(_("%(n)d token(s) revoked.", n=len(tokens)), "success")


class ProductAdmin(StoreModelView):
    can_delete = False  # sales refer to products: mark them inactive
    column_list = ["sku", "name", "category", "brand", "price", "cost", "active"]
    column_labels = {"sku": "SKU", "barcode": _l("Barcode"), "name": _l("Product name"), "category": _l("Category"),
                     "brand": _l("Brand"), "price": _l("Price"), "cost": _l("Cost"), "active": _l("On sale"),
                     "attributes": _l("Attributes")}
    column_formatters = {"price": _money, "cost": _money}
    column_searchable_list = ["sku", "barcode", "name"]
    column_filters = ["category", "brand", "active"]
    form_columns = ["sku", "barcode", "name", "category", "brand", "price", "cost", "active"]


# Where a sale was made, as tills usually say it; a channel a till invents is shown as it sent it.
SALE_CHANNELS = {"store": _l("In store"), "online": _l("Online"), "wechat": _l("WeChat"), "phone": _l("By phone"),
                 "delivery": _l("Delivery"), "manual": _l("Entered by hand")}


class SaleAdmin(StoreModelView):
    store_column = "store_id"
    can_create = can_edit = can_delete = False  # sales come from tills; refunds through the API
    can_view_details = True
    details_template = "storecrm/sale_details.html"
    column_list = ["occurred_at", "store", "customer", "staff", "total", "refunded_total", "status", "external_id"]
    column_labels = {"occurred_at": _l("Time"), "store": _l("Store"), "customer": _l("Customer"), "staff": _l("Salesperson"),
                     "channel": _l("Channel"),
                     "total": _l("Total"), "refunded_total": _l("Refunded"), "status": _l("Status"),
                     "external_id": _l("Till receipt")}
    column_formatters = {"customer": _customer_link, "store": _store_code, "total": _money, "refunded_total": _money,
                         "staff": lambda v, c, m, n: m.staff.display_name if m.staff else "",
                         "status": lambda v, c, m, n: kind_label(m.status),
                         "channel": lambda v, c, m, n: str(SALE_CHANNELS.get(m.channel, m.channel or ""))}
    column_default_sort = ("occurred_at", True)
    column_sortable_list = ["occurred_at", "total"]
    column_filters = ["status", "channel"]
    column_searchable_list = ["external_id"]


class VisitAdmin(StoreModelView):
    store_column = "store_id"
    can_create = can_edit = can_delete = False  # recorded from the customer page or the API
    column_list = ["occurred_at", "store", "customer", "staff", "purpose", "duration_minutes", "purchased"]
    column_labels = {"occurred_at": _l("Time"), "store": _l("Store"), "customer": _l("Customer"), "staff": _l("Staff"),
                     "purpose": _l("Purpose"), "duration_minutes": _l("Minutes"), "purchased": _l("Bought")}
    column_formatters = {"customer": _customer_link, "store": _store_code,
                         "staff": lambda v, c, m, n: m.staff.display_name if m.staff else ""}
    column_default_sort = ("occurred_at", True)
    column_filters = ["purchased", "purpose"]


def reaction_label(key: str) -> str:
    """A delivery's reaction named for people, not by its code: the core's own, or the module's
    title (its half after the commit, for a module that reacts both ways)."""
    if key == CLASSIFICATION:
        return _("Customer classes (core)")
    if key == WEBHOOKS:
        return _("Webhooks (core)")
    plugin = reaction_plugin(key)
    if plugin != key:
        return _("%(module)s (after the commit)", module=module_title(plugin))
    return module_title(plugin)


class DeliveryAdmin(StoreModelView):
    """Plugin reactions that failed: the error, and a button to try again now."""

    can_create = can_edit = can_delete = False
    list_template = "storecrm/delivery_list.html"
    column_list = ["event", "plugin", "status", "attempts", "last_error", "next_attempt_at", "updated_at", "retry"]
    column_labels = {"event": _l("Event"), "plugin": _l("Module"), "status": _l("Status"), "attempts": _l("Attempts"),
                     "last_error": _l("Error"), "next_attempt_at": _l("Next automatic retry"), "updated_at": _l("Updated"),
                     "retry": ""}
    column_formatters = {
        "event": lambda v, c, m, n: f"{m.event.name} #{m.event.subject_id}",
        "plugin": lambda v, c, m, n: reaction_label(m.plugin),
        "last_error": lambda v, c, m, n: Markup('<pre class="small mb-0" style="white-space: pre-wrap; max-width: 40rem">{}</pre>').format((m.last_error or "")[-800:]),
        "retry": macro("retry_button"),
    }
    column_default_sort = ("updated_at", True)
    column_filters = ["plugin", "status"]

    def scope_query(self, query):
        query = query.filter(EventDelivery.status.in_(("failed", "dead")))
        return query.filter(EventDelivery.event_id.in_(select(Event.id).where(Event.store_id.in_(scope_store_ids()))))

    @expose("/retry/<int:delivery_id>", methods=["POST"])
    def retry(self, delivery_id: int):
        from core.events import retry_delivery

        if self.get_one(str(delivery_id)) is None:
            abort(404)
        db.session.rollback()  # retry_delivery runs its own transaction
        status = retry_delivery(delivery_id)
        audit("delivery_retry", actor=current_user_or_none(), target=("event_delivery", delivery_id), details={"status": status})
        db.session.commit()
        if status == "done":
            flash(_("Delivered."), "success")
        else:
            flash(_("Still failing (%(status)s): see the error.", status=status), "error")
        return redirect(request.referrer or url_for(".index_view"))


class AuditLogAdmin(StoreModelView):
    can_create = can_edit = can_delete = False  # append-only
    # The details (a JSON of codes) stay in the API's /audit; the page says who did what, when.
    column_list = ["at", "actor", "action", "target_type", "target_id", "store_id", "ip"]
    column_labels = {"at": _l("Time"), "actor": _l("Who"), "action": _l("Action"), "target_type": _l("On"),
                     "target_id": "#", "store_id": _l("Store"), "ip": "IP"}
    column_formatters = {"action": lambda view, context, model, name: action_label(model.action),
                         "target_type": lambda view, context, model, name: target_label(model.target_type),
                         "target_id": lambda view, context, model, name: (
                             module_title(model.target_id) if model.target_type == "plugin" else model.target_id)}
    column_formatters_detail = column_formatters
    column_default_sort = ("at", True)
    column_filters = ["actor"]


def register(admin) -> None:
    session = db  # Flask-Admin 2.2 wants the Flask-SQLAlchemy object, not its session
    sales, catalog, settings = _l("Sales"), _l("Catalog"), _l("Settings")
    admin.add_view(SaleAdmin(Sale, session, name=_l("Sales"), category=sales, endpoint="sales"))
    admin.add_view(VisitAdmin(Visit, session, name=_l("Visits"), category=sales, endpoint="visits"))
    admin.add_view(ProductAdmin(Product, session, name=_l("Products"), category=catalog, endpoint="products"))
    admin.add_view(StoreAdmin(Store, session, name=_l("Stores"), category=settings, endpoint="stores"))
    admin.add_view(UserAdmin(User, session, name=_l("Staff"), category=settings, endpoint="users"))
    admin.add_view(ApiTokenAdmin(ApiToken, session, name=_l("API tokens"), category=settings, endpoint="tokens"))
    admin.add_view(DeliveryAdmin(EventDelivery, session, name=_l("Failed deliveries"), category=settings, endpoint="deliveries"))
    admin.add_view(AuditLogAdmin(AuditLog, session, name=_l("Audit log"), category=settings, endpoint="audit"))
