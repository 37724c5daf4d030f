"""The dashboard: the admin's home page, per store and for the chain."""

from __future__ import annotations

from flask_admin import AdminIndexView, expose

from core.admin.base import StoreViewMixin


class DashboardView(StoreViewMixin, AdminIndexView):
    @expose("/")
    def index(self):
        return self.render("storecrm/dashboard.html")
