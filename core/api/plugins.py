"""Installed plugins, and each store's switches and settings."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from core.api.http import endpoint, principal, resolve_store
from core.api.schemas import PluginOut, PluginToggle
from core.errors import InvalidInput
from core.extensions import db
from core.roles import role_for
from core.services import store_plugins as svc

bp = Blueprint("plugins", __name__)
bp.storecrm_tag = "plugins"


def _registry():
    return current_app.extensions["storecrm.plugins"]


@endpoint(bp, "/plugins", "GET", summary="Installed plugins, and those that failed to load", response=PluginOut,
          many=True, errors=(401,))
def list_plugins():
    reg = _registry()
    rows = [{"name": m.name, "version": m.version, "summary": m.summary, "depends": list(m.depends), "error": None}
            for m in (reg.manifests[n] for n in reg.ordered(reg.manifests))]
    rows += [{"name": n, "version": "", "summary": "", "depends": [], "error": err} for n, err in reg.load_errors.items()]
    return rows


@endpoint(bp, "/stores/<code>/plugins", "GET", summary="The store's modules and whether each is on",
          response=PluginOut, many=True, errors=(401, 403, 404))
def store_modules(code):
    return svc.store_plugins(db.session, resolve_store(code))


@endpoint(bp, "/stores/<code>/plugins/<name>", "PUT", summary="Switch a module on or off for a store (owner)",
          body=PluginToggle, response=PluginOut, many=True, role=role_for("modules.toggle"), errors=(400, 401, 403, 404, 409))
def toggle_module(code, name, body):
    store = resolve_store(code)
    who = principal()
    if body["enabled"]:
        svc.enable_plugin(db.session, store, name, user=who.user, actor=who.name)
    else:
        svc.disable_plugin(db.session, store, name, user=who.user, actor=who.name)
    db.session.commit()
    return svc.store_plugins(db.session, store)


def settings_document(app) -> dict:
    """Each installed module's settings schema: the body (and answer) of its settings."""
    reg = app.extensions["storecrm.plugins"]
    schemas = [reg.manifests[n].settings_schema for n in reg.ordered(reg.manifests)
               if reg.manifests[n].settings_schema is not None]
    return {"oneOf": schemas, "description": "The settings of the module named in the path: one of these "
                                             "(each module's own schema; GET answers all its fields)"}


def settings_state(code: str, name: str) -> dict:
    return svc.get_settings(db.session, resolve_store(code), name)


@endpoint(bp, "/stores/<code>/plugins/<name>/settings", "GET", summary="A module's settings for a store",
          role=role_for("modules.view"), errors=(401, 403, 404), etag=settings_state, operation_id="getModuleSettings",
          doc_response=settings_document)
def get_settings(code, name):
    return svc.get_settings(db.session, resolve_store(code), name)


@endpoint(bp, "/stores/<code>/plugins/<name>/settings", "PUT",
          summary="Change a module's settings for a store; validated by the module's schema",
          role=role_for("modules.settings.change"),
          errors=(400, 401, 403, 404, 412), etag=settings_state, doc_body=settings_document,
          operation_id="putModuleSettings",
          doc_response=settings_document)
def put_settings(code, name):
    store = resolve_store(code)
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        raise InvalidInput("The body must be a JSON object of settings.", fields={"_body": ["Send a JSON object."]})
    who = principal()
    clean = svc.update_settings(db.session, store, name, values, user=who.user, actor=who.name)
    db.session.commit()
    return clean
