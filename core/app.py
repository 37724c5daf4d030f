"""The app factory: config, extensions, plugins, blueprints — wired in one place."""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from core.config import load_config
from core.config_cache import init_config_cache
from core.crypto import DataCipher
from core.extensions import db
from core.jobs import JobQueue
from core.plugins.registry import PluginRegistry

log = logging.getLogger(__name__)


class LazyBuilderRule(Rule):
    """werkzeug generates and compiles two URL-building functions per rule as it is added;
    with ~450 rules (most never built in a given process: a CLI command, a worker) that was
    most of create_app. Each is compiled the first time a URL is built from it. (Rule's
    `_compile_builder` is werkzeug's private API, 3.x; tests/conftest.py relies on it too.)"""

    def _compile_builder(self, append_unknown: bool = True):
        compile_builder = super()._compile_builder
        name = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule, **values):
            build = compile_builder(append_unknown).__get__(rule, None)
            setattr(rule, name, build)
            return build(**values)

        return build_on_first_use


def create_app(config: dict | None = None, plugins=()) -> Flask:
    """Build an app. `config` overrides the environment; `plugins` are extra Manifests
    registered after the installed ones (tests use this for tiny test plugins)."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("STORECRM_INSTANCE_PATH") or os.path.abspath("instance")
    app = Flask("storecrm", instance_path=instance_path, root_path=os.path.dirname(__file__))
    app.url_rule_class = LazyBuilderRule
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path, config))
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # request.remote_addr (audit rows, the sign-in limiter) becomes the address the
        # outermost trusted proxy saw; headers added before it are the client's word only.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    from core.api.jsonio import BoundedJSONProvider

    app.json = BoundedJSONProvider(app)

    db.init_app(app)
    init_config_cache(app)
    with app.app_context():
        _tune_engine(db.engine)
    app.extensions["storecrm.cipher"] = DataCipher(app.config["DATA_KEY"])

    from core.observability import init_observability

    init_observability(app)  # first: the request id exists before any other hook runs

    registry = PluginRegistry()
    registry.load(app.config["PLUGINS"], app.config["PLUGINS_STRICT"], extra=list(plugins))
    app.extensions["storecrm.plugins"] = registry
    app.extensions["storecrm.jobs"] = JobQueue(app)
    _add_plugin_templates(app, registry)

    from core.api import init_api

    init_api(app)
    from core.admin import init_admin

    init_admin(app)
    from core.classification import init_classification

    init_classification(app)
    from core.analytics import init_analytics

    init_analytics(app)
    from core.privacy import init_privacy

    init_privacy(app)
    from core.web_security import init_web_security

    init_web_security(app)
    registry.call_registration("register_blueprints", app=app)
    registry.call_registration("register_cli_commands", cli=app.cli)

    from sqlalchemy.orm import Session

    from core.delivery import init_delivery
    from core.models.rows import track_joined_rows

    init_delivery(app)  # reactions after the commit
    track_joined_rows(Session)  # rows written with Core leave the session on a rollback

    @app.teardown_appcontext
    def _remove_session(exc):
        db.session.remove()
        from flask import g

        engine = g.pop("storecrm_checkpoint", None)
        if engine is not None:
            checkpoint_wal(engine)

    return app


def _add_plugin_templates(app, registry) -> None:
    """Every plugin's `templates/` folder joins the Jinja loader, after the core's: a plugin
    keeps its templates under `templates/<its name>/` and renders `"<name>/panel.html"`."""
    import importlib.util
    import os

    from jinja2 import ChoiceLoader, FileSystemLoader

    folders = []
    for manifest in registry.manifests.values():
        spec = importlib.util.find_spec(manifest.package) if manifest.package else None
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = os.path.join(list(spec.submodule_search_locations)[0], "templates")
        if os.path.isdir(folder):
            folders.append(FileSystemLoader(folder))
    if folders:
        app.jinja_loader = ChoiceLoader([app.jinja_loader, *folders])


@event.listens_for(Session, "after_commit")
def _checkpoint_after_erasure(session) -> None:
    """An erasure (core/privacy/erasure.py) flags its session: once committed, SQLite's
    write-ahead log, which still holds the erased values' old pages, is folded and emptied:
    when the app context ends (the request's connection is back in the pool, so no statement
    of ours still reads the old snapshot), or at once outside an app context."""
    if not session.info.pop("storecrm_checkpoint_after_commit", False):
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    from flask import g, has_app_context

    if has_app_context():
        g.storecrm_checkpoint = bind
    else:
        checkpoint_wal(bind)


def checkpoint_wal(engine) -> bool:
    """Fold SQLite's write-ahead log into the database file and truncate it to zero bytes.
    False when a reader elsewhere kept it from finishing (logged)."""
    raw = engine.raw_connection()
    try:
        busy, _frames, _done = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    if busy:
        log.warning("the WAL checkpoint after an erasure was blocked by a reader; SQLite folds it later")
    return not busy


def _only_reads(statement: str, context) -> bool:
    """A plain SELECT (not FOR UPDATE, which SQLite cannot lock, so it takes the write lock) or
    a PRAGMA: what may run before the transaction holds SQLite's write lock."""
    compiled = getattr(context, "compiled", None)
    stmt = getattr(compiled, "statement", None)
    if stmt is not None and getattr(stmt, "is_select", False):
        return getattr(stmt, "_for_update_arg", None) is None
    head = statement.lstrip()[:7].upper()
    return head.startswith(("SELECT", "PRAGMA", "EXPLAIN"))


def _tune_engine(engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Let SQLAlchemy drive transactions itself (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed, not left in free pages (erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite has one writer. This process's threads queue for it on a lock instead of polling
    # in SQLite's busy handler, where under a burst of tills one request could lose every retry
    # for the whole busy timeout and answer 500 (seen with 16 tills in bench/).
    #
    # The write lock is taken just before a transaction's first write (or locking read, or
    # savepoint), not when it begins: until then its reads run outside a transaction, each
    # seeing what is committed (PostgreSQL's READ COMMITTED), so lookups, pages and the read
    # part of a sale never wait for a writer. From the first write on, the transaction is an
    # IMMEDIATE one holding the lock until its commit or rollback, so what it reads after that
    # stays its own.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.info.pop("storecrm_writer", None)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn, cursor, statement, parameters, context, executemany):
        if conn.info.get("storecrm_writer") or not conn.in_transaction() or _only_reads(statement, context):
            return
        if not writer.acquire(timeout=30):
            raise TimeoutError("waited 30 s for SQLite's write lock")
        conn.info["storecrm_writer"] = True
        try:
            # Through the driver: not a statement of the caller's, and nothing to re-enter.
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
        except Exception:
            _release(conn)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _release(conn):
        if conn.info.pop("storecrm_writer", False):
            writer.release()
