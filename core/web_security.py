"""Security headers on every response, with a Content-Security-Policy the admin's own
scripts satisfy (served from this origin, or inline with the request's nonce), and the
request-body limits (413 in the API's error shape)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets

from flask import g, request

from core.api.http import API_PREFIX

IMPORT_UPLOAD_PATH = "/admin/imports"


def csp_nonce() -> str:
    """This request's nonce for inline scripts (Flask-Admin's, and ours)."""
    if "storecrm_csp_nonce" not in g:
        g.storecrm_csp_nonce = secrets.token_urlsafe(16)
    return g.storecrm_csp_nonce


# Flask-Admin's templates carry a few inline handlers (a filter link's `return false;`, a
# delete's confirmation, a bulk action). Exactly those shapes are allowed, by the hash of the
# text the server rendered ('unsafe-hashes'); any other inline handler stays blocked.
_HANDLER = re.compile(r'\son[a-z]+="([^"]*)"')
_QUOTED = r"'(?:[^'\\]|\\.)*'"
_ALLOWED_HANDLERS = [re.compile(p) for p in (
    r"return false;",
    rf"return faHelpers\.safeConfirm\({_QUOTED}\);",
    rf"return confirm\({_QUOTED}\)",
    rf"return modelActions\.execute\({_QUOTED}\);",
    rf"faForm\.addInlineField\(this, {_QUOTED}\);",
)]
_ALLOWED_URLS = ("javascript:void(0)",)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def allowed_handler_hashes(page: str) -> list[str]:
    """The hashes of the page's inline handlers that are Flask-Admin's known ones."""
    found = {html.unescape(value) for value in _HANDLER.findall(page)}
    allowed = sorted(_sha256(code) for code in found if any(p.fullmatch(code) for p in _ALLOWED_HANDLERS))
    if "javascript:void(0)" in page:
        allowed += [_sha256(url) for url in _ALLOWED_URLS]
    return allowed


def content_security_policy(nonce: str, handler_hashes: list[str] = ()) -> str:
    hashes = (" 'unsafe-hashes' " + " ".join(handler_hashes)) if handler_hashes else ""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'{hashes}",
        # Chart.js and Bootstrap set style attributes; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def init_web_security(app) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.before_request
    def _larger_limit_for_import_uploads():
        # A customer file from an old system can be tens of megabytes; everything else
        # stays under MAX_CONTENT_LENGTH.
        if request.method == "POST" and request.path.startswith(IMPORT_UPLOAD_PATH):
            request.max_content_length = app.config["IMPORT_MAX_BYTES"]

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if request.path.startswith(API_PREFIX):
            headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        else:
            hashes = []
            if response.mimetype == "text/html" and not response.direct_passthrough:
                hashes = allowed_handler_hashes(response.get_data(as_text=True))
            headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), hashes))
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith("/admin"):
            headers.setdefault("Cache-Control", "no-store")  # personal data stays out of shared caches
        return response

    @app.errorhandler(413)
    def _too_large(exc):
        from core.api.http import error_response

        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        message = f"The request body is larger than {limit} bytes."
        if request.path.startswith(API_PREFIX):
            return error_response(413, "too_large", message)
        from flask_babel import gettext as _

        return _("The file or form is too large (at most %(size)s MB).", size=limit // (1024 * 1024)), 413
