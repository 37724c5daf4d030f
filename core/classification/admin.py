"""The admin's classification page: customers per class in the store (or chain), the
thresholds as a form validated by the settings schema, and a button to recompute now."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l

from core.admin.messages import translate_fields
from core.admin.base import StoreView, current_store, current_user_or_none
from core.classification.models import CHAIN_SCOPE, ClassificationRun
from core.classification.panels import _lang, class_counts
from core.classification.rules import final_label, lifecycle_label
from core.classification.settings import SettingsSchema, save_settings, settings_for, stored_settings
from core.errors import InvalidInput
from core.extensions import db

FIELDS = list(SettingsSchema().fields)
# Each threshold as a manager reads it (zh_CN, English); the form never shows a field's code.
FIELD_LABELS = {
    "window_days": ("统计周期（天）", "Window (days)"),
    "amount_mode": ("消费额分档方式", "How spend is banded"),
    "high_percent": ("高消费：前百分之几", "High spend: top percent"),
    "medium_percent": ("中消费：其后百分之几", "Medium spend: next percent"),
    "high_min_amount": ("高消费最低金额（按金额分档）", "High spend from (amount banding)"),
    "medium_min_amount": ("中消费最低金额（按金额分档）", "Medium spend from (amount banding)"),
    "frequent_min": ("频繁：至少消费次数", "Frequent: at least purchases"),
    "occasional_min": ("偶尔：至少消费次数", "Occasional: at least purchases"),
    "lifecycle_mode": ("生命周期判断方式", "How lifecycle is judged"),
    "new_days": ("新客户：首次消费在几天内", "New: first purchase within (days)"),
    "at_risk_days": ("流失风险：几天未消费", "At risk: no purchase for (days)"),
    "gap_factor": ("流失风险：超过平时间隔的倍数", "At risk: times the usual gap"),
    "churned_days": ("已流失：几天未消费", "Churned: no purchase for (days)"),
    "at_risk_percentile": ("流失风险：间隔百分位", "At risk: gap percentile"),
    "churned_percentile": ("已流失：间隔百分位", "Churned: gap percentile"),
    "rfm_min_population": ("RFM 按五分位计算所需最少客户数", "RFM quintiles need at least (customers)"),
    "recency_bands": ("R 固定区间（天，逗号分隔）", "R bands (days, comma separated)"),
    "chain_timezone": ("全连锁时区", "Chain time zone"),
}
CHOICES = {"amount_mode": ("percentile", "absolute"), "lifecycle_mode": ("days", "percentile")}
CHOICE_LABELS = {"percentile": ("按百分位", "by percentile"), "absolute": ("按金额", "by amount"),
                 "days": ("按天数", "by days")}


def field_label(name: str, lang: str) -> str:
    zh, en = FIELD_LABELS.get(name, (name, name))
    return zh if lang == "zh" else en


def shown_value(value, lang: str) -> str:
    """A setting's value as a placeholder: lists joined, choices labelled."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, str) and value in CHOICE_LABELS:
        zh, en = CHOICE_LABELS[value]
        return zh if lang == "zh" else en
    return "" if value is None else str(value)


class ClassificationView(StoreView):

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
                errors = translate_fields(exc.fields)
        effective = SettingsSchema().dump(settings_for(db.session, scope_id))
        stored = stored_settings(db.session, store.id if store else None)
        lang = _lang()
        return self.render("classification/admin.html", store=store, counts=class_counts(db.session, [scope_id]),
                           effective=effective, stored=stored, errors=errors, fields=FIELDS, lang=lang,
                           run=db.session.get(ClassificationRun, scope_id), final_label=final_label,
                           lifecycle_label=lifecycle_label, field_label=field_label, shown_value=shown_value,
                           choices=CHOICES)

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
