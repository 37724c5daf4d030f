"""What the admin shows of the classification: a customer-page panel with every class and
its reason, and dashboard counts per class."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import func, select

from core.classification.models import CHAIN_SCOPE, CustomerClass
from core.classification.reasons import explain_scope, interests
from core.classification.rules import FINAL_CLASSES, LIFECYCLES, final_label, lifecycle_label


def _lang() -> str:
    try:
        from flask_babel import get_locale

        return "zh" if str(get_locale() or "en").startswith("zh") else "en"
    except Exception:  # noqa: BLE001 - outside a request: English
        return "en"


def classification_panel(customer, ctx):
    """The customer page's classification section: the store being looked at (or every store
    of the user) and the chain, each class with its reason in numbers."""
    from core.admin.base import accessible_stores, current_store

    lang = _lang()
    store = current_store()
    stores = [store] if store is not None else accessible_stores()
    session = ctx.session
    scopes = [explain_scope(session, customer.id, s.id, lang) for s in stores]
    scopes = [s for s in scopes if s["final_class"] != "prospect"] or scopes[:1]
    chain = explain_scope(session, customer.id, CHAIN_SCOPE, lang)
    html = render_template("classification/panel.html", scopes=scopes, chain=chain, lang=lang,
                           interests=interests(session, customer, None),
                           final_label=final_label, lifecycle_label=lifecycle_label, segment_label=_segment_label)
    return {"title": "客户分类" if lang == "zh" else "Classification", "html": Markup(html), "order": 20}


def _segment_label(value, lang="en"):
    from core.classification.filters import _segment_label as label

    return label(value, lang) if value else ""


def class_counts(session, scope_ids: list[int]) -> dict:
    """{"final_class": {class: n}, "lifecycle": {stage: n}} over the scopes, in one query each."""
    out = {}
    for key, values in (("final_class", FINAL_CLASSES), ("lifecycle", LIFECYCLES)):
        column = getattr(CustomerClass, key)
        rows = dict(session.execute(select(column, func.count(func.distinct(CustomerClass.customer_id)))
                                    .where(CustomerClass.scope_id.in_(scope_ids)).group_by(column)).all())
        out[key] = {v: rows.get(v, 0) for v in values if v != "prospect"}
    return out


def class_counts_widget(store, period, ctx):
    """Dashboard: customers per final class and per lifecycle stage (store, or the chain)."""
    lang = _lang()
    counts = class_counts(ctx.session, [store.id if store is not None else CHAIN_SCOPE])
    final = counts["final_class"]
    life = counts["lifecycle"]
    zh = lang == "zh"
    return [
        {"title": "大客户" if zh else "Key customers", "value": str(final["key"])},
        {"title": "流失风险" if zh else "At-risk customers", "value": str(life["at_risk"])},
        {"title": "客户分类" if zh else "Customers by class",
         "chart": {"type": "bar", "labels": [final_label(k, lang) for k in final],
                   "datasets": [{"label": "客户数" if zh else "Customers", "data": list(final.values())}]}},
        {"title": "客户生命周期" if zh else "Customers by lifecycle",
         "chart": {"type": "bar", "labels": [lifecycle_label(k, lang) for k in life],
                   "datasets": [{"label": "客户数" if zh else "Customers", "data": list(life.values())}]}},
    ]
