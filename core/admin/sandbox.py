"""The owner's "reset test data" page of a sandbox store: what will go, a confirmation by
typing the store's code, then the reset (core.services.sandbox) in one transaction."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from core.admin.base import current_user_or_none
from core.errors import DomainError
from core.extensions import db
from core.models import Sale, Store, Visit
from core.services.sandbox import reset_sandbox, sandbox_customer_ids


def _counts(store: Store) -> dict:
    session = db.session
    return {"customers": session.scalar(select(func.count()).select_from(sandbox_customer_ids(store).subquery())),
            "sales": session.scalar(select(func.count(Sale.id)).where(Sale.store_id == store.id)),
            "visits": session.scalar(select(func.count(Visit.id)).where(Visit.store_id == store.id))}


def reset_page(view, store_id: int):
    store = db.session.get(Store, store_id)
    if store is None:
        abort(404)
    error, status = None, 200
    if not store.sandbox:
        error, status = _("Store %(code)s is not a test store (sandbox): only a sandbox can be reset.", code=store.code), 409
    elif request.method == "POST":
        if request.form.get("confirm_code", "").strip() != store.code:
            error, status = _("Type the store's code, %(code)s, to confirm.", code=store.code), 400
        else:
            try:
                reset_sandbox(db.session, store, user=current_user_or_none())
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                error, status = exc.message, exc.status
            else:
                flash(_("Test store %(code)s reset: its customers, sales, visits and events are deleted.",
                        code=store.code), "success")
                return redirect(url_for(".index_view"))
    return view.render("storecrm/sandbox_reset.html", store=store, counts=_counts(store), error=error), status
