"""The admin UI (Flask-Admin): built once per app; plugins add views via `register_admin_views`.

Extension points other parts of the core fill (plain lists of callables on `app.extensions`):
- `storecrm.core_panels`: `(customer, ctx) -> {"title", "html", "order"} | None`, sections of
  the customer page next to the plugins' `customer_panels`;
- `storecrm.core_widgets`: `(store, period, ctx) -> [widget, ...] | None`, dashboard widgets
  next to the plugins' `dashboard_widgets` (same widget shapes as that hook);
- `storecrm.class_filters`: `{"class": callable, "lifecycle": callable}`, each returning
  Flask-Admin filters for the customer list (see core/admin/customers.py).
"""

from __future__ import annotations

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l


def init_admin(app) -> Admin:
    from core.admin.auth import init_auth
    from core.admin.dashboard import DashboardView
    from core.admin.i18n import init_babel
    from core.web_security import csp_nonce

    registry = app.extensions["storecrm.plugins"]
    app.extensions.setdefault("storecrm.core_panels", [])
    app.extensions.setdefault("storecrm.core_widgets", [])
    app.extensions.setdefault("storecrm.class_filters", {})
    init_babel(app, registry)
    init_auth(app)
    admin = Admin(
        app, name="storecrm", url="/admin", endpoint="admin",
        index_view=DashboardView(name=_l("Dashboard"), url="/admin", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="storecrm/admin_base.html", fluid=True),
        csp_nonce_generator=csp_nonce,  # its inline scripts carry the request's CSP nonce
    )
    app.extensions["storecrm.admin"] = admin
    app.context_processor(_template_helpers)
    from core.admin import formatting

    formatting.init_app(app)
    from core.admin import messages

    messages.init_app(app)
    _add_core_views(admin)
    registry.call_registration("register_admin_views", admin=admin, app=app)
    return admin


def _add_core_views(admin: Admin) -> None:
    from core.admin import counter_tasks, customers, modules, records, sales_entry, webhooks

    customers.register(admin)
    counter_tasks.register(admin)
    records.register(admin)
    sales_entry.register(admin)
    modules.register(admin)
    webhooks.register(admin)


def _template_helpers() -> dict:
    from flask import current_app
    from flask_babel import get_locale

    from core.admin.auth import LANGUAGES
    from core.admin.base import accessible_stores, current_store

    from core.admin.menu import build_menu

    return {
        "storecrm_menu": lambda view: build_menu(current_app.extensions["storecrm.admin"], view),
        "storecrm_stores": accessible_stores,
        "storecrm_current_store": current_store,
        "storecrm_languages": lambda: LANGUAGES,
        "storecrm_endpoints": lambda: current_app.view_functions,
        "storecrm_locale": lambda: "zh_CN" if str(get_locale() or "").startswith("zh") else "en",
    }
