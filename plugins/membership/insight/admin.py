"""Member insight in the admin: active vs dormant members per tier, points liability and the
redemption rate per month (core's local Chart.js), and the members to recall."""

from __future__ import annotations

from flask import request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.access import visible_customers
from core.admin.base import StoreView, current_store, current_user_or_none, scope_store_ids
from core.admin.dashboard import chart
from core.extensions import db
from core.models import Customer
from core.roles import role_for
from plugins.membership import services
from plugins.membership.insight import services as insight


def _visible():
    user = current_user_or_none()
    if user is not None and user.role == "owner" and current_store() is None:
        return None
    return select(Customer.id).where(visible_customers(scope_store_ids()))


def _days(name: str, default: int) -> int:
    value = request.args.get(name, type=int)
    return value if value is not None and 1 <= value <= insight.MAX_RECALL_DAYS else default


class InsightView(StoreView):
    plugin = "membership"
    min_role = role_for("membership.insight.view")

    @expose("/")
    def index(self):
        store = current_store()
        tz = store.timezone if store is not None else services.get_program(db.session).timezone
        recall_days = _days("days", insight.DEFAULT_RECALL_DAYS)
        split = insight.active_and_dormant(db.session, recall_days)
        points = insight.points_by_month(db.session, tz)
        by_tier = insight.members_by_tier_over_time(db.session, tz)
        charts = {
            "tiers": chart("line", by_tier["months"], [{"label": name, "data": by_tier["counts"][code]}
                                                       for code, name in by_tier["tiers"]]),
            "activity": chart("bar", split["tiers"], [{"label": _("Active members"), "data": split["active"]},
                                                      {"label": _("Dormant members"), "data": split["dormant"]}]),
            "liability": chart("line", points["months"], [{"label": _("Points liability (¥)"),
                                                           "data": points["liability_yuan"]}]),
            "redemption": chart("bar", points["months"], [{"label": _("Points earned"), "data": points["earned"]},
                                                          {"label": _("Points redeemed"), "data": points["redeemed"]}]),
            "rate": chart("line", points["months"], [{"label": _("Redemption rate (%)"),
                                                      "data": points["redemption_rate"]}]),
        }
        rows = insight.members_to_recall(db.session, recall_days, visible=_visible())
        return self.render("membership/insight.html", charts=charts, rows=rows, days=recall_days, tz=tz,
                           active=sum(split["active"]), dormant=sum(split["dormant"]))


def register(admin, category) -> None:
    admin.add_view(InsightView(name=_l("Member insight"), category=category, endpoint="membership_insight",
                               url="/admin/membership/insight"))
