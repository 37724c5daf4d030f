"""The admin UI (Flask-Admin): built once per app; plugins add views via `register_admin_views`."""

from __future__ import annotations

from flask_admin import Admin


def init_admin(app) -> Admin:
    admin = Admin(app, name="storecrm", url="/admin", endpoint="admin")
    app.extensions["storecrm.admin"] = admin
    app.extensions["storecrm.plugins"].call_registration("register_admin_views", admin=admin, app=app)
    return admin
