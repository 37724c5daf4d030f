"""The `storecrm` command: a Flask CLI group (README, "Running a shop or a chain")."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from core.errors import DomainError


# Commands that run on a database that is not (yet) upgraded.
# Commands that run on any schema: the schema's own, and those that check it themselves
# (run and worker refuse it unless --allow-pending; plugins list shows it, enable refuses a
# plugin without its tables).
WITHOUT_SCHEMA = ("db", "keys", "demo", "run", "worker", "plugins")


class NotUpgraded(RuntimeError):
    """The database lacks migrations this code needs."""


def _create_app():
    from core.app import create_app

    app = create_app()
    ctx = click.get_current_context(silent=True)
    words = (ctx.command_path.split()[1:] if ctx is not None else [])
    if words and words[0] not in WITHOUT_SCHEMA:
        _require_upgraded(app)
    return app


def _require_upgraded(app) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from core.migrate import pending_message, pending_migrations

    try:
        message = pending_message(pending_migrations(app))
    except SQLAlchemyError as exc:
        raise NotUpgraded(f"the database cannot be read ({type(exc).__name__}); check STORECRM_DATABASE_URL, "
                          "then run `storecrm db upgrade`") from exc
    if message:
        raise NotUpgraded(message)


class StorecrmGroup(FlaskGroup):
    """FlaskGroup whose command list, shown by `storecrm --help`, names a start-up problem the
    person at the keyboard can fix (no secret key set, a plugin that fails to load) in one line:
    Flask would print a traceback above the help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from flask.cli import ScriptInfo

        from core.config import ConfigError
        from core.plugins.registry import PluginLoadError

        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except (ConfigError, PluginLoadError) as exc:
            click.secho(f"Error: {exc} (the commands below need it)\n", err=True, fg="red")
            self._load_plugin_commands()
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)


@click.group(cls=StorecrmGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def cli():
    """storecrm: customer management for shops and chains of branch stores."""


def main():
    import os

    from core.config import ConfigError, load_env_file
    from core.observability.logs import configure_logging
    from core.plugins.registry import PluginLoadError

    load_env_file()
    try:
        configure_logging(os.environ.get("STORECRM_LOG_FORMAT", "text").strip().lower() or "text",
                          os.environ.get("STORECRM_LOG_LEVEL", "INFO").strip().upper() or "INFO")
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    try:
        cli.main(prog_name="storecrm")
    except (ConfigError, PluginLoadError) as exc:
        # A start-up problem the person at the keyboard can fix: a message, not a traceback.
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except NotUpgraded as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def fail(message: str) -> None:
    raise click.ClickException(message)


def _store(code: str):
    from core.extensions import db
    from core.models import Store

    store = db.session.scalars(select(Store).where(Store.code == code)).first()
    if store is None:
        fail(f"no store with code {code!r}; `storecrm stores list` shows them")
    return store


# --- keys and database ---------------------------------------------------------------------------

@cli.group()
def keys():
    """Data encryption keys."""


@keys.command("generate", with_appcontext=False)  # the first key is made before any is set
def keys_generate():
    """Print a new STORECRM_DATA_KEY."""
    from core.crypto import generate_key

    click.echo(generate_key())


@cli.group()
def db():
    """Database schema (Alembic: one branch for the core, one per plugin)."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Apply every pending migration of the core and the installed plugins."""
    from core.migrate import upgrade

    def waiting():
        click.echo("another `storecrm db upgrade` is running on this database; waiting for it to finish", err=True)

    applied = upgrade(current_app._get_current_object(), on_wait=waiting)
    for revision_id, description in applied:
        click.echo(f"applied {revision_id}: {description}")
    click.echo(f"database is up to date ({len(applied)} migration(s) applied)" if applied
               else "database was already up to date")


@db.command("revision", with_appcontext=False)
@click.option("-m", "--message", required=True)
@click.option("--branch", default="core", show_default=True, help='"core" or a plugin name')
def db_revision(message, branch):
    """Autogenerate a migration for the core or one plugin (needs no keys: it reads no data)."""
    import os

    from core.app import create_app
    from core.crypto import generate_key
    from core.migrate import pending_message, pending_migrations, plugin_version_dirs, revision

    app = create_app({"SECRET_KEY": os.environ.get("STORECRM_SECRET_KEY") or "storecrm-db-revision",
                      "DATA_KEY": os.environ.get("STORECRM_DATA_KEY") or generate_key()})
    with app.app_context():
        if branch != "core" and branch not in plugin_version_dirs(app):
            fail(f"no plugin {branch!r} with a migrations/versions folder: create "
                 f"<package>/migrations/versions/ in plugin {branch}'s package first")
        pending = pending_migrations(app)
        if pending:
            # Autogenerate compares the models with the database: an old schema would be written
            # into the new migration as if it were the change.
            fail(pending_message(pending) + ", so that the new migration holds only your change.")
        revision(app, message, branch)


# --- stores, users, tokens -------------------------------------------------------------------------

@cli.group()
def stores():
    """Stores of the chain."""


@stores.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--currency", default="CNY", show_default=True)
@click.option("--sandbox", is_flag=True, help="a test store: kept out of chain figures and other stores' campaigns, "
                                              "can be reset (`storecrm stores reset-sandbox`)")
@with_appcontext
def stores_create(code, name, timezone, currency, sandbox):
    """Open a store with CODE (used by tills and URLs) and NAME."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from core.extensions import db as database
    from core.models import Store

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone: unknown time zone {timezone!r} (e.g. Asia/Shanghai)")
    if database.session.scalars(select(Store).where(Store.code == code)).first():
        fail(f"a store with code {code!r} exists already")
    database.session.add(Store(code=code, name=name, timezone=timezone, currency=currency.upper(), sandbox=sandbox))
    database.session.commit()
    click.echo(f"{'sandbox (test) store' if sandbox else 'store'} {code} created")


@stores.command("list")
@with_appcontext
def stores_list():
    from core.extensions import db as database
    from core.models import Store

    for store in database.session.scalars(select(Store).order_by(Store.code)):
        click.echo(f"{store.code}\t{store.name}\t{store.timezone}" + ("\tsandbox" if store.sandbox else ""))


@stores.command("reset-sandbox")
@click.argument("code")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def stores_reset_sandbox(code, yes):
    """Delete the customers, sales, visits, events and modules' data of sandbox (test) store CODE."""
    from core.errors import DomainError
    from core.extensions import db as database
    from core.services.sandbox import reset_sandbox

    store = _store(code)
    if not store.sandbox:
        fail(f"store {code} is not a sandbox (test) store: only a sandbox can be reset")
    if not yes:
        click.confirm(f"Delete every customer, sale, visit and event of test store {code}?", abort=True)
    try:
        deleted = reset_sandbox(database.session, store, actor="cli")
    except DomainError as exc:
        database.session.rollback()
        fail(str(exc))
    database.session.commit()
    click.echo(f"sandbox store {code} reset: " + (", ".join(f"{t} {n}" for t, n in deleted.items()) or "nothing to delete"))


@cli.group()
def users():
    """Staff accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["owner", "manager", "staff"]), default="staff", show_default=True)
@click.option("--store", "store_codes", multiple=True, help="a store this person works in (repeatable)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="")
@with_appcontext
def users_create(username, role, store_codes, password, display_name):
    """Create a staff account."""
    from core.extensions import db as database
    from core.models import User

    if len(password) < 8:
        fail("--password: use at least 8 characters")
    if database.session.scalars(select(User).where(User.username == username)).first():
        fail(f"user {username!r} exists already")
    if role != "owner" and not store_codes:
        fail("--store: a manager or staff member works in at least one store")
    user = User(username=username, role=role, display_name=display_name or username)
    user.set_password(password)
    user.stores = [_store(c) for c in store_codes]
    database.session.add(user)
    database.session.commit()
    click.echo(f"user {username} ({role}) created")


@cli.group()
def tokens():
    """API tokens."""


@tokens.command("create")
@click.option("--store", "store_code", help="a till token acting only in this store")
@click.option("--user", "username", help="a token acting as this person")
@click.option("--name", default="api", show_default=True)
@with_appcontext
def tokens_create(store_code, username, name):
    """Print a new API token (shown once; only its hash is kept)."""
    from core.extensions import db as database
    from core.models import ApiToken, User

    if bool(store_code) == bool(username):
        fail("give exactly one of --store CODE or --user USERNAME")
    store = _store(store_code) if store_code else None
    user = None
    if username:
        user = database.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            fail(f"--user: no user {username!r}")
    token, raw = ApiToken.issue(name, store=store, user=user)
    database.session.add(token)
    database.session.commit()
    click.echo(raw)


@cli.group()
def products():
    """The product catalogue."""


@products.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def products_import(path):
    """Add or update products from a CSV or XLSX file. Headers (Chinese or English):
    商品编号/sku, 商品名称/name, 价格/price, and optionally 成本/cost, 分类/category,
    品牌/brand, 条码/barcode. Nothing is written if any row is rejected."""
    from core.extensions import db as database
    from core.imports.products import import_products

    try:
        result = import_products(database.session, path)
    except DomainError as exc:
        database.session.rollback()
        fail(exc.message)
    if result.errors:
        database.session.rollback()
        for err in result.errors[:50]:
            click.echo(f"  line {err['line']}: {err['field']}: {err['reason']}", err=True)
        fail(f"{len(result.errors)} problem(s) in {path}; nothing was imported")
    database.session.commit()
    click.echo(f"products: {result.created} created, {result.updated} updated")


# --- plugins ---------------------------------------------------------------------------------------

@cli.group()
def plugins():
    """Installed plugins and their per-store switches."""


@plugins.command("list")
@click.option("--store", "store_code", help="show whether each is on in this store")
@with_appcontext
def plugins_list(store_code):
    from core.migrate import by_owner, pending_migrations

    reg = current_app.extensions["storecrm.plugins"]
    enabled = reg.enabled_in(_store(store_code)) if store_code else frozenset()
    pending = by_owner(pending_migrations(current_app._get_current_object()))
    for name in reg.ordered(reg.manifests):
        m = reg.manifests[name]
        state = ("on " if name in enabled else "off") if store_code else ""
        deps = f" (depends on {', '.join(m.depends)})" if m.depends else ""
        schema = (f" [migrations pending: {', '.join(pending[name])}: run `storecrm db upgrade`]" if name in pending
                  else " [tables up to date]")
        click.echo(f"{state}{' ' if state else ''}{m.name} {m.version} - {m.summary}{deps}{schema}")
    if "core" in pending:
        click.echo(f"core migrations pending: {', '.join(pending['core'])}: run `storecrm db upgrade`", err=True)
    for name, error in reg.load_errors.items():
        click.echo(f"FAILED {name}: {error}", err=True)


@plugins.command("new", with_appcontext=False)
@click.argument("name")
@click.option("--dir", "target", default=".", show_default=True, type=click.Path(file_okay=False),
              help="where to write the package folder storecrm-NAME")
@click.option("--title", help="the plugin's name as people read it (default: from NAME)")
def plugins_new(name, target, title):
    """Write a new plugin package NAME: manifest, model, migration, hooks, API, panel,
    translations and passing tests (a stamp card to reshape; docs/writing-plugins.md)."""
    from core.scaffold import write

    try:
        root = write(name, target, title)
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    click.echo(f"wrote {root}")
    click.echo(f"next: pip install -e {root} && storecrm db upgrade && (cd {root} && pytest)")


def _toggle(store_code, name, on: bool):
    from core.extensions import db as database
    from core.services.store_plugins import disable_plugin, enable_plugin

    store = _store(store_code)
    try:
        if on:
            switched = enable_plugin(database.session, store, name, actor="cli")
            database.session.commit()
            click.echo(f"enabled in {store.code}: {', '.join(switched) or name + ' (already on)'}")
        else:
            changed = disable_plugin(database.session, store, name, actor="cli")
            database.session.commit()
            click.echo(f"disabled {name} in {store.code}" if changed else f"{name} was not on in {store.code}")
    except DomainError as exc:
        database.session.rollback()
        fail(exc.message)


@plugins.command("enable")
@click.argument("name")
@click.option("--store", "store_code", required=True)
@with_appcontext
def plugins_enable(name, store_code):
    """Switch plugin NAME on for a store (its dependencies too)."""
    _toggle(store_code, name, True)


@plugins.command("disable")
@click.argument("name")
@click.option("--store", "store_code", required=True)
@with_appcontext
def plugins_disable(name, store_code):
    """Switch plugin NAME off for a store (its data stays)."""
    _toggle(store_code, name, False)


# --- demo ----------------------------------------------------------------------------------------------

@cli.command("demo", with_appcontext=False)  # the demo builds its own app, keys and all
@click.option("--serve/--no-serve", "serve_after", default=True, show_default=True, help="serve the admin once the chain is built")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--customers", default=300, show_default=True, help="how many customers a new demo gets")
@click.option("--days", default=90, show_default=True, help="how many days of sales history")
def demo(serve_after, host, port, customers, days):
    """Build a demo chain (coffee shop, clothing store, beauty salon) in instance/demo.db and serve it.

    Needs no environment: its keys are generated once into instance/demo.env. Running it again
    reuses the chain and only switches on modules installed since."""
    import os

    from core.app import create_app
    from core.demo import DEMO_PASSWORD, LOGINS, build_demo, demo_config

    instance = os.environ.get("STORECRM_INSTANCE_PATH") or os.path.abspath("instance")
    app = create_app(demo_config(instance))
    counts = build_demo(app, customers=customers, days=days, echo=click.echo)
    click.echo("demo chain ready: {stores} stores, {customers} customers, {sales} sales, {visits} visits".format(**counts))
    click.echo(f"  open http://{host}:{port}/admin/")
    for label, username in LOGINS:
        click.echo(f"  {label:8} {username} / {DEMO_PASSWORD}")
    if serve_after:
        serve(app, host, port)


# --- running ---------------------------------------------------------------------------------------

def refuse_pending_migrations(allow_pending: bool) -> None:
    """`run` and `worker` never start on a schema older than the code (a plugin installed
    without `storecrm db upgrade` would answer 500s, or lose jobs)."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.migrate import pending_message, pending_migrations

    try:
        message = pending_message(pending_migrations(current_app._get_current_object()))
    except SQLAlchemyError as exc:
        # Said in one line (systemd restarts the unit and the journal shows why), not a traceback.
        fail(f"the database cannot be reached ({type(exc).__name__}: {str(getattr(exc, 'orig', exc)).strip()[:200]}); "
             "check STORECRM_DATABASE_URL and that the database is running")
    if message and not allow_pending:
        fail(message + " (or pass --allow-pending to start anyway).")
    if message:
        click.echo("warning: " + message, err=True)


ALLOW_PENDING = click.option("--allow-pending", is_flag=True,
                             help="start even though migrations have not run (not recommended)")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, envvar="STORECRM_WORKERS",
              help="gunicorn worker processes (on SQLite, one is usually enough: it has one writer)")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, envvar="STORECRM_THREADS",
              help="threads per worker")
@click.option("--graceful-timeout", type=click.IntRange(min=1), default=30, show_default=True,
              help="seconds a worker has to finish its requests on a restart (SIGHUP) or stop (SIGTERM)")
@click.option("--pid", "pidfile", type=click.Path(dir_okay=False), help="write the server's process id here")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="one masked line per request on stdout")
@click.option("--dev", is_flag=True, help="werkzeug's development server instead (one process; never in a shop)")
@ALLOW_PENDING
@with_appcontext
def run(host, port, workers, threads, graceful_timeout, pidfile, access_log, dev, allow_pending):
    """Serve the app with gunicorn (and, without Redis, run periodic jobs in-process and deliver
    the reactions after the commit from a process of its own)."""
    from core.serving import serve_dev, serve_production

    refuse_pending_migrations(allow_pending)
    app = current_app._get_current_object()
    if dev:
        serve_dev(app, host, port)
        return
    serve_production(app, host=host, port=port, workers=workers, threads=threads,
                     graceful_timeout=graceful_timeout, pidfile=pidfile, access_log=access_log)


def serve(app, host: str, port: int) -> None:
    """The demo's server: werkzeug is enough for a look around."""
    from core.serving import serve_dev

    serve_dev(app, host, port)


@cli.command("worker")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@click.option("--with-scheduler/--without-scheduler", default=True, show_default=True,
              help="also claim and queue periodic jobs (any number of workers may: each slot runs once)")
@click.option("--maintenance-interval", type=click.IntRange(min=1), default=30, show_default=True,
              envvar="STORECRM_WORKER_MAINTENANCE_INTERVAL",
              help="seconds between rq's maintenance runs (finding jobs of a killed worker, taking over "
                   "rq's scheduler lock it left), so their retries start within a minute or two")
@ALLOW_PENDING
@with_appcontext
def worker(burst, with_scheduler, maintenance_interval, allow_pending):
    """Run an rq worker for the app's queue (needs STORECRM_REDIS_URL)."""
    from core.worker import run_worker

    queue = current_app.extensions["storecrm.jobs"]
    if not queue.uses_redis:
        fail("STORECRM_REDIS_URL is not set: without Redis, jobs run in-process and no worker is needed")
    refuse_pending_migrations(allow_pending)
    run_worker(current_app._get_current_object(), burst=burst, with_scheduler=with_scheduler and not burst,
               maintenance_interval=maintenance_interval)


# --- privacy and backup (their rules live in core/privacy and core/backup.py) ----------------------

from core.privacy.commands import attach as _attach_privacy_commands  # noqa: E402

_attach_privacy_commands(cli, keys)

# --- import, classification, merging duplicates (core/imports, core/classification, core/merge.py) ---

from core.imports.commands import attach as _attach_import_commands  # noqa: E402

_attach_import_commands(cli)

from core.merge import attach_commands as _attach_merge_commands  # noqa: E402

_attach_merge_commands(cli)

from core.classification.commands import attach as _attach_classify_commands  # noqa: E402

_attach_classify_commands(cli)
