"""Membership in the admin: members with tier and balance, the ledger, the tier editor, member
days and a manager's points adjustment (with its reason, audited). Built on core/admin's base
views, so every page needs a login, hides where membership is off and honours roles."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from sqlalchemy import select

from core.admin.base import StoreModelView, StoreView, current_store, current_user_or_none, scope_store_ids
from core.admin.customer_search import search_clause
from core.admin.customer_columns import CustomerListMixin, class_label, fact_formatters, figures_of
from core.services.phones import mask_phone, national
from core.access import visible_customers
from core.errors import DomainError, NotFound
from core.models import Customer
from core.extensions import db
from plugins.membership import figures, labels, services
from plugins.membership.labels import PERKS
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


def list_scope():
    """The stores the page covers (None: the chain, for owners in the chain view)."""
    user = current_user_or_none()
    if user is not None and user.role == "owner" and current_store() is None:
        return None
    return scope_store_ids()


def _masked_phone(view, context, model, name):
    return mask_phone(model.customer.phone) if model.customer else ""


class MemberView(CustomerListMixin, StoreModelView):
    """The members list: exactly the members `figures.members_in_scope` counts (the dashboard's
    figure), with search, the customer columns and an export."""

    plugin = "membership"
    can_create = can_edit = can_delete = False
    can_view_details = False
    list_template = "membership/member_list.html"
    customer_id_attr = "customer_id"
    column_searchable_list = ["customer_id"]  # the box is shown; the search is CustomerListMixin's
    column_list = ["customer", "phone", "tier", "points_balance", "lifetime_spend", "visits", "last_purchase",
                   "customer_class", "enrolled_at"]
    column_labels = {"customer": _l("Customer"), "phone": _l("Phone"), "tier": _l("Tier"), "points_balance": _l("Points"),
                     "lifetime_spend": _l("Lifetime spend"), "tier_locked": _l("Tier locked"),
                     "enrolled_at": _l("Member since"), "visits": _l("Purchases"), "last_purchase": _l("Last purchase"),
                     "customer_class": _l("Class"), "tier.name": _l("Tier")}
    column_formatters = {"customer": _customer_link, "phone": _masked_phone, "tier": _tier, "lifetime_spend": _money,
                         **fact_formatters(lambda m: m.customer_id)}
    column_filters = ["tier.name", "points_balance", "tier_locked"]
    column_sortable_list = ["points_balance", "lifetime_spend", "enrolled_at"]
    column_default_sort = ("points_balance", True)

    def scope_query(self, query):
        return query.filter(figures.members_in_scope(list_scope()))

    def figure_scope(self):
        return list_scope()

    def export_table(self, rows, masked):
        from core.admin.formatting import local_datetime

        keys = ("customer", "phone", "tier", "points_balance", "lifetime_spend", "visits", "last_purchase",
                "customer_class", "enrolled_at")
        header = [str(self.column_labels[k]) for k in keys]
        table = []
        for m in rows:
            c = m.customer
            facts = figures_of(m.customer_id)
            phone = mask_phone(c.phone) if masked else (national(c.phone) if c.phone else "")
            table.append([c.name or "", phone or "", m.tier.name if m.tier else "", m.points_balance, m.lifetime_spend,
                          facts["visits"], local_datetime(facts["last_purchase_at"], current_store()),
                          class_label(m.customer_id), local_datetime(m.enrolled_at, current_store())])
        return _("members"), header, table


KIND_LABELS = labels.KINDS  # one label per ledger code (plugins/membership/labels.py)


def ledger_rows(entries) -> None:
    """The sales, customers and operators a page of the ledger names, one query each."""
    from core.models import Sale, User

    sale_ids = {e.sale_id for e in entries if e.sale_id}
    customer_ids = {e.customer_id for e in entries}
    user_ids = {e.actor_user_id for e in entries if e.actor_user_id}
    g.membership_ledger_sales = {s.id: s for s in db.session.scalars(select(Sale).where(Sale.id.in_(sale_ids)))} \
        if sale_ids else {}
    g.membership_ledger_customers = dict(db.session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids))).all()) if customer_ids else {}
    g.membership_ledger_users = {u.id: u.display_name or u.username for u in db.session.scalars(
        select(User).where(User.id.in_(user_ids)))} if user_ids else {}


def _entry_time(view, context, model, name):
    """When it happened: the sale's time for what a sale did, else when the entry was made."""
    from core.admin.formatting import local_datetime

    sale = g.get("membership_ledger_sales", {}).get(model.sale_id)
    return local_datetime(sale.occurred_at if sale is not None else model.created_at, current_store())


def _entry_customer(view, context, model, name):
    return Markup('<a href="{}">{}</a>').format(url_for("customers.page", customer_id=model.customer_id),
                                                g.get("membership_ledger_customers", {}).get(model.customer_id) or "—")


def _entry_receipt(view, context, model, name):
    sale = g.get("membership_ledger_sales", {}).get(model.sale_id)
    if sale is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(url_for("sales.details_view", id=sale.id),
                                                sale.external_id or _("Sale of %(day)s", day=_entry_time(view, context, model, name)))


def _entry_operator(view, context, model, name):
    known = g.get("membership_ledger_users", {}).get(model.actor_user_id)
    if known:
        return known
    return _("the till") if model.sale_id else _("the system")


def _entry_reason(view, context, model, name):
    return labels.reason_label(model.reason)


class LedgerView(CustomerListMixin, StoreModelView):
    """The points ledger as a counter reads it: who, what, the sale's time and receipt, by whom."""

    plugin = "membership"
    can_create = can_edit = can_delete = False
    can_view_details = False
    customer_id_attr = "customer_id"
    column_searchable_list = ["customer_id"]  # the box is shown; the search is CustomerListMixin's
    list_template = "membership/member_list.html"
    column_list = ["created_at", "customer_id", "kind", "points", "remaining", "expires_on", "reason", "sale_id",
                   "actor"]
    column_labels = {"created_at": _l("When"), "customer_id": _l("Customer"), "kind": _l("Kind"), "points": _l("Points"),
                     "remaining": _l("Unspent"), "expires_on": _l("Expires"), "reason": _l("Reason"),
                     "sale_id": _l("Receipt"), "actor": _l("By")}
    column_formatters = {"created_at": _entry_time, "customer_id": _entry_customer, "sale_id": _entry_receipt,
                         "actor": _entry_operator, "reason": _entry_reason,
                         "kind": lambda v, c, m, n: str(KIND_LABELS.get(m.kind, m.kind))}
    column_filters = [FilterEqual(PointsEntry.kind, _l("Kind"), options=[(k, v) for k, v in KIND_LABELS.items()]),
                      "expires_on"]
    column_default_sort = ("id", True)

    def scope_query(self, query):
        visible = visible_customer_ids()
        return query if visible is None else query.filter(PointsEntry.customer_id.in_(visible))

    def figure_scope(self):
        return list_scope()

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                       page_size=page_size)
        if execute:
            ledger_rows(rows)
        return count, rows

    def export_table(self, rows, masked):
        keys = ("created_at", "customer_id", "kind", "points", "remaining", "expires_on", "reason", "sale_id", "actor")
        header = [str(self.column_labels[k]) for k in keys]
        sales = g.get("membership_ledger_sales", {})
        table = [[_entry_time(self, None, e, None), g.membership_ledger_customers.get(e.customer_id) or "",
                  str(KIND_LABELS.get(e.kind, e.kind)), e.points, e.remaining, e.expires_on or "",
                  _entry_reason(self, None, e, None),
                  (sales[e.sale_id].external_id or "") if e.sale_id in sales else "",
                  _entry_operator(self, None, e, None)] for e in rows]
        return _("points-ledger"), header, table


class TierView(StoreModelView):
    """The tier editor: the owner sets thresholds, rates and perks for the whole chain."""

    plugin = "membership"
    can_delete = False  # members point at their tier; switch it off (active) instead
    column_list = ["code", "name", "threshold", "min_purchases", "points_rate", "birthday_discount_percent",
                   "full_price_discount_percent", "standing_discount_percent", "perks", "active"]
    form_columns = column_list
    column_labels = {"code": _l("Code"), "name": _l("Tier name"), "threshold": _l("Cumulative spend"),
                     "min_purchases": _l("Purchases that qualify"),
                     "points_rate": _l("Points per ¥1"), "birthday_discount_percent": _l("Birthday discount (%)"),
                     "full_price_discount_percent": _l("Member discount on full-price goods (%)"), "perks": _l("Perks"),
                     "standing_discount_percent": _l("Standing discount on every sale (%)"),
                     "active": _l("Active")}
    column_formatters = {"threshold": _money, "perks": lambda view, context, model, name: _(", ").join(
        str(PERKS.get(p, p)) for p in model.perks or [])}
    column_default_sort = "threshold"


class MemberDayView(StoreModelView):
    plugin = "membership"
    column_list = ["name", "weekday", "day_of_month", "discount_percent", "points_multiplier", "active"]
    form_columns = ["name", "weekday", "day_of_month", "discount_percent", "points_multiplier", "active", "note"]
    column_labels = {"name": _l("Member day"), "weekday": _l("Weekday (0 = Monday)"), "day_of_month": _l("Day of month"),
                     "discount_percent": _l("Extra discount (%)"), "points_multiplier": _l("Points multiplier"),
                     "active": _l("Active"), "note": _l("Note")}

    def on_model_change(self, form, model, is_created):
        if model.weekday is None and model.day_of_month is None:
            raise ValueError(_("Give a weekday or a day of the month."))
        return super().on_model_change(form, model, is_created)


def adjust_error(exc: DomainError) -> str:
    """A readable message for a refused adjustment (the service speaks to integrators)."""
    fields = exc.fields or {}
    if "reason" in fields:
        return _("Say why the points change.")
    if "points" in fields and (exc.details or {}).get("balance") is not None:
        return _("Only %(balance)s points are available.", balance=exc.details["balance"])
    if "points" in fields:
        return _("Enter a number of points other than 0.")
    return _("The points could not be adjusted.")


class AdjustPointsView(StoreView):
    """A manager adds or takes points by hand; the reason is required and audited. The customer
    is found by name, phone or card number (or comes from the customer page), never by id."""

    plugin = "membership"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        customer_id = request.values.get("customer_id", type=int)
        q = (request.args.get("q") or "").strip()
        customer = None
        if customer_id:
            try:
                customer = _visible_customer(customer_id)
            except NotFound:
                flash(_("No such customer here."), "error")
        if request.method == "POST" and customer is not None:
            try:
                services.adjust_points(db.session, customer, request.form.get("points", type=int) or 0,
                                       request.form.get("reason") or "", store=current_store(),
                                       user=current_user_or_none())
                db.session.commit()
                flash(_("Points adjusted."), "success")
                return redirect(url_for("customers.page", customer_id=customer.id))
            except DomainError as exc:
                db.session.rollback()
                flash(adjust_error(exc), "error")
        matches = _matching_customers(q) if q and customer is None else []
        member = services.find_member(db.session, customer.id) if customer is not None else None
        return self.render("membership/adjust.html", customer=customer, member=member, q=q, matches=matches,
                           mask_phone=mask_phone)


def _matching_customers(q: str) -> list[tuple[Customer, Member | None]]:
    """Up to 10 customers this page may see whose name, card number or full phone matches."""
    clause = search_clause(q)
    visible = visible_customer_ids()
    query = select(Customer, Member).outerjoin(Member, Member.customer_id == Customer.id).where(
        clause, Customer.erased_at.is_(None))
    if visible is not None:
        query = query.where(Customer.id.in_(visible))
    return list(db.session.execute(query.order_by(Customer.name).limit(10)).all())


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
    from plugins.membership.events.admin import register as register_events
    from plugins.membership.gifts.admin import register as register_gifts
    from plugins.membership.insight.admin import register as register_insight
    from plugins.membership.rewards.admin import register as register_rewards

    register_rewards(admin, CATEGORY)
    register_gifts(admin, CATEGORY)
    register_events(admin, CATEGORY)
    register_insight(admin, CATEGORY)
