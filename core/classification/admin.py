"""The admin's classification page: customers per class in the store (or chain), the
thresholds as a form validated by the settings schema, and a button to recompute now."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l

from core.admin.base import StoreView, current_store, current_user_or_none
from core.classification.models import CHAIN_SCOPE, ClassificationRun
from core.classification.panels import _lang, class_counts
from core.classification.rules import final_label, lifecycle_label
from core.classification.settings import SettingsSchema, save_settings, settings_for, stored_settings
from core.errors import InvalidInput
from core.extensions import db

FIELDS = list(SettingsSchema().fields)


class ClassificationView(StoreView):
    min_role = "manager"

    def _scope(self):
        store = current_store()
        return store, (store.id if store is not None else CHAIN_SCOPE)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        store, scope_id = self._scope()
        user = current_user_or_none()
        errors: dict = {}
        if request.method == "POST":
            if store is None and (user is None or user.role != "owner"):
                return redirect(url_for(".index"))
            values = _form_values(request.form)
            try:
                save_settings(db.session, store.id if store else None, values)
                from core.audit import audit

                audit("classification_settings", actor=user, store=store, details={"settings": values})
                db.session.commit()
                flash("保存成功，下次重新计算时生效" if _lang() == "zh" else "Saved; the next recompute uses them.", "success")
                return redirect(url_for(".index"))
            except InvalidInput as exc:
                db.session.rollback()
                errors = exc.fields
        effective = SettingsSchema().dump(settings_for(db.session, scope_id))
        stored = stored_settings(db.session, store.id if store else None)
        lang = _lang()
        return self.render("classification/admin.html", store=store, counts=class_counts(db.session, [scope_id]),
                           effective=effective, stored=stored, errors=errors, fields=FIELDS, lang=lang,
                           run=db.session.get(ClassificationRun, scope_id), final_label=final_label,
                           lifecycle_label=lifecycle_label)

    @expose("/recompute", methods=("POST",))
    def recompute(self):
        from core.classification.jobs import nightly_recompute
        from core.jobs import jobs

        db.session.commit()  # the job runs in its own session
        jobs().enqueue(nightly_recompute, job_id="storecrm-classification-recompute")
        flash("已重新计算" if _lang() == "zh" else "Recompute started (done at once without Redis).", "success")
        return redirect(url_for(".index"))


def _form_values(form) -> dict:
    """Only the fields the person filled in; empty means "use the chain's / the default"."""
    values: dict = {}
    for name in FIELDS:
        raw = (form.get(name) or "").strip()
        if not raw:
            continue
        if name == "recency_bands":
            values[name] = [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]
        else:
            values[name] = raw
    return values


def register(admin) -> None:
    admin.add_view(ClassificationView(name=_l("Classification"), category=_l("Customers"), endpoint="classification",
                                      url="/admin/classification"))
