"""The counter's daily task lists in the admin: birthdays this month and customers to win back."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_admin import expose
from flask_babel import lazy_gettext as _l

from core.admin.base import StoreView, current_store
from core.admin.customer_page import birthday_text, view_scope
from core.admin.formatting import DEFAULT_TZ
from core.extensions import db
from core.services.counter_tasks import birthdays_in_month, win_back
from core.services.customer_figures import empty_figures, purchase_figures
from core.services.phones import mask_phone


class CounterTasksView(StoreView):
    @expose("/")
    def index(self):
        from core.classification.rules import lifecycle_label
        from core.admin.customer_columns import _lang

        store = current_store()
        scope = view_scope()
        today = datetime.now(ZoneInfo(store.timezone if store else DEFAULT_TZ)).date()
        birthdays = birthdays_in_month(db.session, scope, today.month)
        facts = purchase_figures(db.session, [c.id for c in birthdays], scope)
        return self.render(
            "storecrm/counter_tasks.html", store=store, month=today.month, today=today,
            birthdays=[{"customer": c, "birthday": birthday_text(c), "today": c.birth_day == today.day,
                        **(facts.get(c.id) or empty_figures())} for c in birthdays],
            win_back=win_back(db.session, scope, store.id if store else 0), mask_phone=mask_phone,
            lifecycle_label=lambda value: lifecycle_label(value, _lang()))


def register(admin) -> None:
    admin.add_view(CounterTasksView(name=_l("Birthdays and win-back"), category=_l("Customers"),
                                    endpoint="customer_tasks", url="/admin/customers/tasks"))
