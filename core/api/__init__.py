"""The REST API under /api/v1 (api.md), and the helper plugins use to mount theirs."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from sqlalchemy import select

from core.api.http import API_PREFIX, endpoint, principal, register_error_handlers, resolve_store
from core.api.openapi import openapi_document
from core.errors import NotFound

__all__ = ["endpoint", "init_api", "plugin_blueprint", "principal", "resolve_store"]


def init_api(app) -> None:
    from core.api import analytics, catalog, classification, customers, plugins, privacy, sales, sales_sync, webhooks

    from core.api.limits import init_rate_limits

    register_error_handlers(app)
    init_rate_limits(app)
    root = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for module in (customers, sales, sales_sync, catalog, plugins, privacy, classification, analytics, webhooks):
        root.register_blueprint(module.bp)
    root.add_url_rule("/openapi.json", "openapi", lambda: openapi_document(current_app))
    app.register_blueprint(root)


def _is_chain_wide() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    op = getattr(view, "storecrm_operation", None)
    return bool(op and op.chain_wide)


def _enabled_anywhere(name: str) -> bool:
    from core.extensions import db
    from core.models import StorePlugin

    return db.session.scalars(select(StorePlugin.store_id).where(StorePlugin.plugin == name,
                                                           StorePlugin.enabled.is_(True)).limit(1)).first() is not None


def plugin_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint mounted at /api/v1/<name> whose routes answer 404 in a store that has not
    enabled the plugin. The store is the till's own, or `?store=` / the JSON body's `store`."""
    bp = Blueprint(f"api_{name}", import_name, url_prefix=f"{API_PREFIX}/{name}")
    bp.storecrm_tag = name
    bp.storecrm_plugin = True

    @bp.before_request
    def _only_where_enabled():
        from core.api.http import authenticate

        g.principal = authenticate()
        body = request.get_json(silent=True) if request.is_json else None
        code = request.args.get("store") or (body.get("store") if isinstance(body, dict) else None)
        if not code and g.principal.is_owner and _is_chain_wide():
            # The program, its tiers...: the owner's, about the chain; the module must be on somewhere.
            if not _enabled_anywhere(name):
                raise NotFound(f"{name} is not enabled in any store")
            g.store = None
            return
        store = resolve_store(code)
        if not current_app.extensions["storecrm.plugins"].is_enabled(store, name):
            raise NotFound(f"{name} is not enabled in store {store.code}")
        g.store = store

    @bp.after_request
    def _unit_of_work(response):
        # A plugin's endpoint commits when it answers without an error and rolls back when it
        # does not, as the core's own do: an endpoint that forgot `commit()` still stores.
        from core.extensions import db

        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    return bp
