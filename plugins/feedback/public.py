"""The public pages, no login: each store's feedback form (the QR code at the counter points
here) and the survey page a signed link opens. zh_CN first (`?lang=en` for English),
phone-sized, CSRF-protected, rate-limited per address and store, with a honeypot field.

The sender's address is `request.remote_addr`: behind a reverse proxy set
STORECRM_TRUSTED_PROXIES so the core's ProxyFix puts the client's address there; an
X-Forwarded-For header from anyone else is ignored, so nobody dodges the limit by forging it."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms.validators import ValidationError as CsrfInvalid

from core.extensions import db
from core.models import Store
from plugins.feedback.labels import CATEGORY_LABELS
from plugins.feedback.models import CATEGORIES, Survey
from plugins.feedback.services.feedback import (
    TooManyRequests, address_hash, answer_survey, check_form_rate, clean_text, record_feedback,
)
from plugins.feedback.services.surveys import survey_from_token

public = Blueprint("feedback_public", __name__, url_prefix="/feedback")
HONEYPOT = "website"
LANGS = ("zh_CN", "en")


def _lang() -> str:
    lang = request.values.get("lang", "zh_CN")
    return lang if lang in LANGS else "zh_CN"


def _registry():
    return current_app.extensions["storecrm.plugins"]


def _store_or_404(code: str) -> Store:
    store = db.session.scalars(select(Store).where(Store.code == code)).first() if len(code) <= 32 else None
    if store is None or not _registry().is_enabled(store, "feedback"):
        abort(404)
    return store


def _csrf_ok() -> bool:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CsrfInvalid, CSRFError):
        return False
    return True


def read_answer(form) -> tuple[dict, dict]:
    """(values, errors) of a rating/category/text form; errors name the field in words."""
    errors = {}
    raw_rating = (form.get("rating") or "").strip()
    rating = int(raw_rating) if raw_rating.isdigit() and len(raw_rating) == 1 else None
    if rating is None or not 1 <= rating <= 5:
        errors["rating"] = _("Choose from 1 to 5 stars.")
    category = form.get("category") or "other"
    if category not in CATEGORIES:
        errors["category"] = _("Choose one of the listed topics.")
    text = form.get("text") or ""
    if len(text) > 2000:
        errors["text"] = _("At most 2000 characters, please.")
    return {"rating": rating, "category": category, "text": clean_text(text)}, errors


def _page(template: str, status: int = 200, **context):
    categories = [(c, str(CATEGORY_LABELS[c])) for c in CATEGORIES]
    return render_template(template, categories=categories, lang=_lang(), honeypot=HONEYPOT, **context), status


@public.route("/<code>", methods=["GET", "POST"])
def form(code: str):
    with force_locale(_lang()):
        store = _store_or_404(code)
        settings = _registry().settings(store, "feedback")
        if not settings["public_form_enabled"]:
            abort(404)
        if request.method == "GET":
            return _page("feedback/public_form.html", store=store, values={}, errors={})
        if not _csrf_ok():
            return _page("feedback/public_form.html", 400, store=store, values=request.form, errors={},
                         message=_("The form expired. Please send it again."))
        if request.form.get(HONEYPOT):
            return _page("feedback/public_thanks.html", store=store)  # a bot: thanked, nothing kept
        values, errors = read_answer(request.form)
        if errors:
            return _page("feedback/public_form.html", 400, store=store, values=request.form, errors=errors)
        ip_hash = address_hash(request.remote_addr)
        try:
            check_form_rate(db.session, store, ip_hash, settings)
        except TooManyRequests as exc:
            return _page("feedback/public_form.html", 429, store=store, values=request.form, errors={},
                         message=exc.message)
        record_feedback(db.session, store, channel="website", actor="public form", ip_hash=ip_hash, **values)
        db.session.commit()
        return _page("feedback/public_thanks.html", store=store)


@public.route("/survey/<token>", methods=["GET", "POST"])
def survey(token: str):
    with force_locale(_lang()):
        found = survey_from_token(db.session, token) if len(token) <= 200 else None
        if found is None:
            abort(404)
        store = db.session.get(Store, found.store_id)
        if not _registry().is_enabled(store, "feedback"):
            abort(404)
        if found.state == "answered":
            return _page("feedback/public_thanks.html", store=store, already=True)
        if request.method == "GET":
            return _page("feedback/public_form.html", store=store, values={}, errors={}, survey=found)
        if not _csrf_ok():
            return _page("feedback/public_form.html", 400, store=store, values=request.form, errors={}, survey=found,
                         message=_("The form expired. Please send it again."))
        values, errors = read_answer(request.form)
        if errors:
            return _page("feedback/public_form.html", 400, store=store, values=request.form, errors=errors, survey=found)
        # Two taps on "send" at once: the row lock lets the second see the first's answer.
        found = db.session.scalars(select(Survey).where(Survey.id == found.id).with_for_update()
                                   .execution_options(populate_existing=True)).one()
        if found.state == "answered":
            return _page("feedback/public_thanks.html", store=store, already=True)
        answer_survey(db.session, found, **values)
        db.session.commit()
        return _page("feedback/public_thanks.html", store=store)
