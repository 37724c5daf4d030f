"""The yearly gift in the admin: the owner's gift per tier, and the gifts issued (who took
theirs, at which sale)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from flask import url_for
from wtforms.validators import NumberRange

from core.admin.base import StoreModelView
from core.extensions import db
from core.roles import role_for
from plugins.membership.admin import VisibleCustomersOnly
from plugins.membership.gifts.models import Gift, GiftPlan

STATE_LABELS = {"issued": _l("Not taken yet"), "redeemed": _l("Taken")}


def _customer(view, context, model, name):
    customer = model.customer
    return Markup('<a href="{}">{}</a>').format(url_for("customers.page", customer_id=customer.id),
                                                customer.name or customer.id) if customer else ""


class GiftPlanView(StoreModelView):
    plugin = "membership"
    min_role = role_for("membership.gifts.plan")
    column_list = ["tier", "name", "value", "active"]
    form_columns = ["tier", "name", "value", "active"]
    column_labels = {"tier": _l("Tier"), "name": _l("Gift"), "value": _l("Takes off a sale (¥)"), "active": _l("Active")}
    form_args = {"value": {"validators": [NumberRange(min=0.01)]}}


class GiftView(VisibleCustomersOnly, StoreModelView):
    plugin = "membership"
    min_role = role_for("membership.gifts.view")
    can_create = can_edit = can_delete = False
    column_list = ["year", "customer", "name", "value", "state", "expires_on", "sale_id"]
    column_labels = {"year": _l("Year"), "customer": _l("Customer"), "name": _l("Gift"), "value": _l("Value (¥)"),
                     "state": _l("State"), "expires_on": _l("Valid until"), "sale_id": _l("Sale")}
    column_formatters = {"customer": _customer, "state": lambda v, c, m, n: STATE_LABELS.get(m.state, m.state)}
    column_filters = ["year", "state"]
    column_default_sort = ("id", True)


def register(admin, category) -> None:
    admin.add_view(GiftPlanView(GiftPlan, db, name=_l("Yearly gift per tier"), category=category,
                                endpoint="membership_gift_plans", url="/admin/membership/gift-plans"))
    admin.add_view(GiftView(Gift, db, name=_l("Gifts issued"), category=category, endpoint="membership_gifts",
                            url="/admin/membership/gifts"))


