"""Membership in the admin: members with tier and balance, the ledger, the tier editor, member
days and a manager's points adjustment (with its reason, audited). Built on core/admin's base
views, so every page needs a login, hides where membership is off and honours roles."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from sqlalchemy import select

from core.admin.base import StoreModelView, StoreView, current_store, current_user_or_none, scope_store_ids
from core.access import visible_customers
from core.errors import DomainError, NotFound
from core.models import Customer
from core.extensions import db
from plugins.membership import services
from plugins.membership.models import MemberDay, Member, PointsEntry, Tier

CATEGORY = _l("Membership")


def _customer_link(view, context, model, name):
    customer = model.customer
    if customer is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(url_for("customers.page", customer_id=customer.id),
                                                customer.name or customer.id)


def _money(view, context, model, name):
    value = getattr(model, name)
    return "" if value is None else f"¥{value:,.2f}"


def _tier(view, context, model, name):
    return model.tier.name if model.tier else _("not a member yet")


def visible_customer_ids():
    """Customers the admin may show here, as the core's customer pages do (None: everyone)."""
    user = current_user_or_none()
    if user is not None and user.role == "owner" and current_store() is None:
        return None
    return select(Customer.id).where(visible_customers(scope_store_ids()))


class VisibleCustomersOnly:
    """Members are chain-wide, but a store's staff see only the customers of their stores."""

    customer_column = "customer_id"

    def scope_query(self, query):
        visible = visible_customer_ids()
        if visible is None:
            return query
        return query.filter(getattr(self.model, self.customer_column).in_(visible))


class MemberView(VisibleCustomersOnly, StoreModelView):
    """Members are chain-wide: every store that has membership on sees the same list."""

    plugin = "membership"
    can_create = can_edit = can_delete = False
    column_list = ["customer", "tier", "points_balance", "lifetime_spend", "tier_locked", "enrolled_at"]
    column_labels = {"customer": _l("Customer"), "tier": _l("Tier"), "points_balance": _l("Points"),
                     "lifetime_spend": _l("Lifetime spend"), "tier_locked": _l("Tier locked"),
                     "enrolled_at": _l("Member since")}
    column_formatters = {"customer": _customer_link, "tier": _tier, "lifetime_spend": _money}
    column_filters = ["tier.code", "points_balance", "tier_locked"]
    column_default_sort = ("points_balance", True)


class LedgerView(VisibleCustomersOnly, StoreModelView):
    plugin = "membership"
    can_create = can_edit = can_delete = False
    column_list = ["created_at", "customer_id", "kind", "points", "remaining", "expires_on", "reason", "sale_id", "actor"]
    column_labels = {"created_at": _l("When"), "customer_id": _l("Customer"), "kind": _l("Kind"), "points": _l("Points"),
                     "remaining": _l("Unspent"), "expires_on": _l("Expires"), "reason": _l("Reason"),
                     "sale_id": _l("Sale"), "actor": _l("By")}
    column_filters = ["customer_id", "kind", "sale_id", "expires_on"]
    column_default_sort = ("id", True)


class TierView(StoreModelView):
    """The tier editor: the owner sets thresholds, rates and perks for the whole chain."""

    plugin = "membership"
    min_role = "owner"
    can_delete = False  # members point at their tier; switch it off (active) instead
    column_list = ["code", "name", "threshold", "points_rate", "birthday_discount_percent",
                   "full_price_discount_percent", "perks", "active"]
    form_columns = column_list
    column_labels = {"code": _l("Code"), "name": _l("Name"), "threshold": _l("Cumulative spend"),
                     "points_rate": _l("Points per ¥1"), "birthday_discount_percent": _l("Birthday discount (%)"),
                     "full_price_discount_percent": _l("Member discount on full-price goods (%)"), "perks": _l("Perks"),
                     "active": _l("Active")}
    column_formatters = {"threshold": _money}
    column_default_sort = "threshold"


class MemberDayView(StoreModelView):
    plugin = "membership"
    min_role = "owner"
    column_list = ["name", "weekday", "day_of_month", "discount_percent", "points_multiplier", "active"]
    form_columns = ["name", "weekday", "day_of_month", "discount_percent", "points_multiplier", "active", "note"]
    column_labels = {"name": _l("Name"), "weekday": _l("Weekday (0 = Monday)"), "day_of_month": _l("Day of month"),
                     "discount_percent": _l("Extra discount (%)"), "points_multiplier": _l("Points multiplier"),
                     "active": _l("Active"), "note": _l("Note")}

    def on_model_change(self, form, model, is_created):
        if model.weekday is None and model.day_of_month is None:
            raise ValueError(_("Give a weekday or a day of the month."))
        return super().on_model_change(form, model, is_created)


class AdjustPointsView(StoreView):
    """A manager adds or takes points by hand; the reason is required and audited."""

    plugin = "membership"
    min_role = "manager"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        customer_id = request.values.get("customer_id", type=int)
        if request.method == "POST":
            try:
                customer = _visible_customer(customer_id or 0)
                services.adjust_points(db.session, customer, request.form.get("points", type=int) or 0,
                                       request.form.get("reason") or "", store=current_store(),
                                       user=current_user_or_none())
                db.session.commit()
                flash(_("Points adjusted."), "success")
                return redirect(url_for("customers.page", customer_id=customer.id))
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "error")
        return self.render("membership/adjust.html", customer_id=customer_id)


def _visible_customer(customer_id: int) -> Customer:
    visible = visible_customer_ids()
    query = select(Customer).where(Customer.id == customer_id, Customer.erased_at.is_(None))
    if visible is not None:
        query = query.where(Customer.id.in_(visible))
    customer = db.session.scalars(query).first()
    if customer is None:
        raise NotFound(_("No such customer here."))
    return customer


def register(admin, app) -> None:
    session = db  # Flask-Admin 2.x takes the SQLAlchemy object (a bare session is deprecated)
    admin.add_view(MemberView(Member, session, name=_l("Members"), category=CATEGORY, endpoint="membership_members",
                              url="/admin/membership/members"))
    admin.add_view(LedgerView(PointsEntry, session, name=_l("Points ledger"), category=CATEGORY,
                              endpoint="membership_ledger", url="/admin/membership/ledger"))
    admin.add_view(TierView(Tier, session, name=_l("Tiers"), category=CATEGORY, endpoint="membership_tiers",
                            url="/admin/membership/tiers"))
    admin.add_view(MemberDayView(MemberDay, session, name=_l("Member days"), category=CATEGORY,
                                 endpoint="membership_member_days", url="/admin/membership/member-days"))
    admin.add_view(AdjustPointsView(name=_l("Adjust points"), category=CATEGORY, endpoint="membership_adjust",
                                    url="/admin/membership/adjust"))
