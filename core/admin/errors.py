"""Error pages of the admin (403, 404, 405, 500...): the admin's layout, menu and language
instead of werkzeug's English page. The API keeps its JSON error shape (core/api/http.py)."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

from core.errors import DomainError


def _texts(status: int) -> tuple[str, str]:
    if status == 403:
        return _("You may not open this page"), _("Your role does not allow it. Ask the owner if you need it.")
    if status == 404:
        return _("Page not found"), _("The page or the record does not exist, or it is in a store you do not work in.")
    if status >= 500:
        return _("Something went wrong"), _("The error was logged. Try again, or tell the owner if it happens again.")
    return _("The request could not be handled"), _("Go back and try again.")


def is_admin_page() -> bool:
    return request.path.startswith("/admin") and not request.path.startswith("/admin/static")


def admin_error_page(exc):
    """The page for an HTTP error under /admin, or None to let Flask answer as before."""
    # An HTTPException's `code`, or a DomainError's `status` (its `code` is a word: "not_found").
    status = exc.status if isinstance(exc, DomainError) else (getattr(exc, "code", None) or 500)
    admin = current_app.extensions.get("storecrm.admin")
    if admin is None:
        return None
    title, explanation = _texts(status)
    try:
        return admin.index_view.render("storecrm/error.html", status=status, title=title,
                                       explanation=explanation), status
    except Exception:  # noqa: BLE001 - an error page must never fail: fall back to werkzeug's
        current_app.logger.exception("the admin error page failed for %s", status)
        return None
