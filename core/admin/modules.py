"""The modules page: every installed plugin, its switch for the current store, and its
settings form generated from the plugin's marshmallow schema."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from core.admin.messages import describe, translate, translate_fields
from core.roles import may
from core.admin.base import StoreView, accessible_stores, current_store, current_user_or_none, registry
from core.errors import DomainError
from core.extensions import db
from core.services import store_plugins


def form_fields(schema_class) -> list[dict]:
    """How each setting is edited: `{"name", "label", "widget", "choices", "help"}` per field."""
    if schema_class is None:
        return []
    out = []
    for name, field in schema_class().fields.items():
        if field.dump_only:
            continue
        widget, choices = "text", None
        if isinstance(field, fields.Boolean):
            widget = "checkbox"
        elif isinstance(field, (fields.Integer, fields.Float, fields.Decimal)):
            widget = "number"
        elif isinstance(field, (fields.Dict, fields.Nested)):
            widget = "json"
        elif isinstance(field, fields.List):
            widget = "list"
        elif isinstance(field, fields.Date):
            widget = "date"
        for validator in field.validators if isinstance(field.validators, list) else [field.validators]:
            if isinstance(validator, validate.OneOf):
                widget, choices = "select", list(zip(validator.choices, validator.labels or validator.choices))
        meta = field.metadata or {}
        # A plugin's schema may give plain English (a label, a description, a choice): each is
        # looked up in the catalogues when shown, so its translation lives in the plugin's .po.
        label = meta.get("label") or name.replace("_", " ").capitalize()
        help_text = meta.get("description")
        out.append({"name": name, "label": _(str(label)), "widget": widget,
                    "choices": [(value, _(str(text))) for value, text in choices] if choices else None,
                    "help": _(str(help_text)) if help_text else None})
    return out


def values_from_form(specs: list[dict], form) -> tuple[dict, dict]:
    """The submitted form as settings values, and the errors of fields that are not even
    well-formed (bad JSON); the schema judges everything else."""
    values, errors = {}, {}
    for spec in specs:
        name, raw = spec["name"], form.get(spec["name"], "")
        if spec["widget"] == "checkbox":
            values[name] = bool(form.get(name))
        elif spec["widget"] == "json":
            try:
                values[name] = json.loads(raw) if raw.strip() else {}
            except ValueError:
                errors[name] = [_("Not valid JSON.")]
        elif spec["widget"] == "list":
            values[name] = [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]
        elif spec["widget"] == "number" and raw.strip() == "":
            errors[name] = [_("A number is required.")]
        else:
            values[name] = raw.strip()
    return values, errors


def display_value(spec: dict, value) -> str:
    if spec["widget"] == "json":
        return json.dumps(value, ensure_ascii=False, indent=2, default=str) if value not in (None, "") else ""
    if spec["widget"] == "list":
        return ", ".join(str(v) for v in value or [])
    if isinstance(value, Decimal):
        return format(value, "f")
    try:
        return "" if value is None else str(value)
    except (InvalidOperation, ValueError):
        return ""


def _title(reg, name: str, zh: bool) -> str:
    manifest = reg.manifests.get(name)
    return manifest.display_title(zh) if manifest is not None else name


def module_title(name: str) -> str:
    """A module's name as the current page's language reads it (flash messages, audit)."""
    return _title(registry(), name, str(get_locale() or "").startswith("zh"))


class ModulesView(StoreView):

    def _render(self, store, form_errors=None, submitted=None, status=200):
        reg = registry()
        zh = str(get_locale() or "").startswith("zh")
        rows = []
        for info in store_plugins.store_plugins(db.session, store) if store is not None else []:
            manifest = reg.manifests[info["name"]]
            specs = form_fields(manifest.settings_schema)
            current = store_plugins.get_settings(db.session, store, info["name"]) if specs else {}
            if submitted and submitted[0] == info["name"]:
                current = {**current, **submitted[1]}
            rows.append({**info, "summary": (manifest.summary_zh if zh and manifest.summary_zh else manifest.summary),
                         "title": manifest.display_title(zh),
                         "dependents": [_title(reg, d, zh) for d in sorted(reg.dependents(info["name"]))],
                         "depends": [_title(reg, d, zh) for d in info.get("depends") or manifest.depends],
                         "fields": [{**s, "value": current.get(s["name"]), "shown": display_value(s, current.get(s["name"]))}
                                    for s in specs]})
        user = current_user_or_none()
        return self.render("storecrm/modules.html", store=store, modules=rows, load_errors=reg.load_errors,
                           form_errors=form_errors or {}, stores=accessible_stores(),
                           can_toggle=may(user, "modules.toggle"),
                           can_change_settings=may(user, "modules.settings.change")), status

    @expose("/")
    def index(self):
        return self._render(current_store())

    @expose("/toggle", methods=["POST"])
    def toggle(self):
        if not may(current_user_or_none(), "modules.toggle"):
            abort(403)
        store = current_store()
        name = request.form.get("plugin", "")
        user = current_user_or_none()
        if store is None:
            flash(_("Pick a store in the navbar first: modules are switched per store."), "error")
            return redirect(url_for(".index"))
        try:
            if request.form.get("enabled") == "1":
                switched = store_plugins.enable_plugin(db.session, store, name, user=user, actor=user.username)
                db.session.commit()
                also = [p for p in switched if p != name]
                message = _("%(name)s is on in %(store)s.", name=module_title(name), store=store.name)
                if also:
                    message += " " + _("Also switched on, because it needs them: %(names)s.", names=", ".join(module_title(n) for n in also))
                flash(message, "success")
            else:
                store_plugins.disable_plugin(db.session, store, name, user=user, actor=user.username)
                db.session.commit()
                flash(_("%(name)s is off in %(store)s. Its data is kept.", name=module_title(name), store=store.name), "success")
        except DomainError as exc:
            db.session.rollback()
            dependents = exc.details.get("dependents")
            if dependents:
                flash(_("%(name)s cannot be switched off: %(names)s need it. Switch those off first.",
                        name=module_title(name), names=", ".join(module_title(n) for n in dependents)), "error")
            else:
                flash(describe(exc), "error")
        except Exception as exc:  # noqa: BLE001 - a plugin's plugin_enabled hook may raise anything
            db.session.rollback()
            flash(_("%(name)s could not be switched on: %(error)s", name=module_title(name), error=str(exc)), "error")
        return redirect(url_for(".index") + f"#module-{name}")

    @expose("/<plugin_name>/settings", methods=["POST"])
    def settings(self, plugin_name: str):
        if not may(current_user_or_none(), "modules.settings.change"):
            abort(403)
        name = plugin_name
        store = current_store()
        reg = registry()
        if store is None or name not in reg.manifests:
            return redirect(url_for(".index"))
        specs = form_fields(reg.manifests[name].settings_schema)
        values, errors = values_from_form(specs, request.form)
        if not errors:
            user = current_user_or_none()
            try:
                store_plugins.update_settings(db.session, store, name, values, user=user, actor=user.username)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                errors = translate_fields(exc.fields) or {"_schema": [translate(exc.message)]}
            else:
                flash(_("Settings of %(name)s saved.", name=module_title(name)), "success")
                return redirect(url_for(".index") + f"#module-{name}")
        # Show the form again with what was typed and each field's reason next to it.
        return self._render(store, form_errors={name: errors}, submitted=(name, values), status=400)


def register(admin) -> None:
    admin.add_view(ModulesView(name=_l("Modules"), category=_l("Settings"), endpoint="modules", url="/admin/modules",
                               menu_icon_type="fa", menu_icon_value="fa-puzzle-piece"))
