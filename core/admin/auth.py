"""Signing in to the admin: Flask-Login sessions, a rate limit on failed logins, CSRF on
every admin POST, and the small navbar actions (store switcher, language)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.extensions import db
from core.models import AuditLog, User, UserSession, utcnow

# Failed attempts counted from the audit log, so the limit holds across worker processes.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
LANGUAGES = {"zh_CN": "中文", "en": "English"}

bp = Blueprint("storecrm_auth", __name__, url_prefix="/admin")
login_manager = LoginManager()
csrf = CSRFProtect()


def init_auth(app) -> None:
    # CSRF is checked on admin POSTs only: the REST API authenticates with bearer tokens.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a counter screen stays open all day
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "storecrm_auth.login"
    app.register_blueprint(bp)

    @app.before_request
    def _protect_admin_posts():
        if (request.method in ("POST", "PUT", "PATCH", "DELETE") and request.path.startswith("/admin")
                and current_app.config.get("WTF_CSRF_ENABLED", True)):
            csrf.protect()


SESSION_KEY = "storecrm_sid"
# A signed-in session's last_seen_at is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)


@login_manager.user_loader
def _load_user(user_id: str):
    """The signed-in user, only while the server still holds this cookie's session row, the
    row is not idle too long, and the user is active."""
    try:
        user = db.session.get(User, int(user_id))
    except (ValueError, OverflowError):
        return None
    raw = session.get(SESSION_KEY)
    if user is None or not user.active or not isinstance(raw, str):
        return None
    row = db.session.get(UserSession, UserSession.hash(raw))
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if row is None or row.user_id != user.id or row.last_seen_at < now - idle:
        if row is not None:
            db.session.delete(row)
            db.session.commit()
        session.clear()
        return None
    if row.last_seen_at < now - TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return user


def start_session(user: User) -> None:
    raw = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=UserSession.hash(raw), user_id=user.id, created_at=utcnow(),
                               last_seen_at=utcnow()))
    session[SESSION_KEY] = raw


def end_every_session(db_session, user_id: int) -> None:
    """Sign a person out everywhere (a password change, a deactivation)."""
    db_session.execute(delete(UserSession).where(UserSession.user_id == user_id))


@event.listens_for(Session, "before_flush")
def _end_sessions_on_credential_change(db_session, flush_context, instances):
    for obj in db_session.dirty:
        if not isinstance(obj, User):
            continue
        state = inspect(obj)
        password = state.attrs.password_hash.history
        active = state.attrs.active.history
        if (password.deleted and password.added) or (active.deleted and active.added and not obj.active):
            end_every_session(db_session, obj.id)


def _client_ip() -> str:
    return request.remote_addr or "?"


def too_many_failures(username: str, ip: str) -> bool:
    since = utcnow() - LOGIN_WINDOW
    base = select(func.count(AuditLog.id)).where(AuditLog.action == "login_failed", AuditLog.at >= since)
    by_user = db.session.scalar(base.where(AuditLog.target_id == username.lower()))
    by_ip = db.session.scalar(base.where(AuditLog.ip == ip))
    return by_user >= MAX_FAILURES_PER_USER or by_ip >= MAX_FAILURES_PER_IP


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error = None
    status = 200
    username = (request.form.get("username") or "").strip()
    if request.method == "POST":
        ip = _client_ip()
        if too_many_failures(username, ip):
            error = _("Too many failed sign-ins. Wait 15 minutes and try again.")
            status = 429
        else:
            user = db.session.scalars(select(User).where(func.lower(User.username) == username.lower())).first()
            if user is not None and user.active and user.check_password(request.form.get("password") or ""):
                session.clear()
                login_user(user)
                start_session(user)
                audit("login", actor=user, target=("user", user.id))
                db.session.commit()
                return redirect(_safe_next(request.args.get("next")))
            audit("login_failed", actor=username or "anonymous", target=("username", username.lower()))
            db.session.commit()
            error = _("Wrong username or password.")
            status = 401
    return render_template("storecrm/login.html", error=error, username=username,
                           languages=LANGUAGES), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit("logout", actor=current_user._get_current_object(), target=("user", current_user.id))
        raw = session.get(SESSION_KEY)
        if isinstance(raw, str):  # the server forgets it: this cookie, replayed, signs no one in
            db.session.execute(delete(UserSession).where(UserSession.token_hash == UserSession.hash(raw)))
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("storecrm_auth.login"))


@bp.route("/switch-store", methods=["POST"])
def switch_store():
    from core.admin.base import set_current_store

    if not current_user.is_authenticated:
        abort(401)
    if not set_current_store(request.form.get("store")):
        abort(403)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/language", methods=["POST"])
def set_language():
    code = request.form.get("locale")
    if code not in LANGUAGES:
        abort(400)
    session["storecrm_locale"] = code
    if current_user.is_authenticated:
        current_user.locale = code  # chosen per user: it follows them to the next device
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    if session.get("storecrm_locale") in LANGUAGES:
        return session["storecrm_locale"]
    return current_app.config.get("LOCALE") or "zh_CN"


__all__ = ["bp", "csrf", "init_auth", "login_manager", "select_locale", "too_many_failures"]
