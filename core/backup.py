"""`storecrm backup` and `storecrm restore`: a consistent copy of the whole database.

SQLite is copied with its online backup API (a consistent snapshot while the shop runs);
PostgreSQL with `pg_dump -Fc`, brought back with `pg_restore --clean` in one transaction.
Personal data stays encrypted inside the copy; keep STORECRM_DATA_KEY with it, apart from it."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

# A database with any of these rows is somebody's shop: restoring over it needs --force.
SHOP_TABLES = ("store", "user_account", "customer", "sale")


class BackupError(RuntimeError):
    pass


def backend(url) -> str:
    return make_url(str(url)).get_backend_name()


def default_path(instance_path: str, url) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    suffix = "sqlite3" if backend(url) == "sqlite" else "dump"
    return os.path.join(instance_path, "backups", f"storecrm-{stamp}.{suffix}")


def backup(engine, path: str) -> str:
    """Write a consistent snapshot of the database behind `engine` to `path`; returns it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if backend(engine.url) == "sqlite":
        if os.path.exists(path):
            os.remove(path)  # the backup API copies into a database; start from nothing
        source = sqlite3.connect(_sqlite_file(engine.url))
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", path, "--dbname", _libpq_uri(engine.url)])
    os.chmod(path, 0o600)  # hashes and ciphertext only, but still the shop's whole customer file
    return path


def restore(engine, path: str, *, force: bool = False) -> None:
    """Bring the database behind `engine` back to the snapshot in `path`. Refuses to replace a
    database that holds a shop unless `force`. Stop the app and workers first."""
    if not os.path.isfile(path):
        raise BackupError(f"{path}: no such backup file")
    if not force and not is_empty(engine):
        raise BackupError("the database is not empty; restoring would replace it. Use --force to replace it.")
    engine.dispose()  # no pooled connection may hold the tables being replaced
    if backend(engine.url) == "sqlite":
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if source.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone() is None:
                raise BackupError(f"{path} is not a storecrm SQLite backup")
            target = sqlite3.connect(_sqlite_file(engine.url))
            try:
                source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a SQLite backup: {exc}") from exc
        finally:
            source.close()
    else:
        _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", "--dbname", _libpq_uri(engine.url), path])
    engine.dispose()


def is_empty(engine) -> bool:
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return not any(conn.execute(text(f'SELECT 1 FROM "{t}" LIMIT 1')).first() for t in SHOP_TABLES if t in present)


def _sqlite_file(url) -> str:
    database = make_url(str(url)).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return database


def _libpq_uri(url) -> str:
    """The SQLAlchemy URL as libpq understands it (no "+psycopg" driver part)."""
    return make_url(str(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    """pg_dump/pg_restore: STORECRM_PG_BIN, then PATH, then the newest Debian install."""
    candidates = []
    if os.environ.get("STORECRM_PG_BIN"):
        candidates.append(os.path.join(os.environ["STORECRM_PG_BIN"], name))
    candidates.append(shutil.which(name))
    candidates.extend(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                             key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0, reverse=True))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        # The libpq URI (with its password) is never echoed back.
        raise BackupError(f"{os.path.basename(argv[0])} failed: {result.stderr.strip()[-2000:]}")


# --- commands ----------------------------------------------------------------------------------------

@click.command("backup")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(file):
    """Write a consistent copy of the database to FILE (default: instance/backups/)."""
    from core.audit import audit
    from core.extensions import db

    path = file or default_path(current_app.instance_path, db.engine.url)
    # Recorded before the copy is taken, so the copy carries its own record.
    audit("backup", actor="cli", details={"file": os.path.basename(path)})
    db.session.commit()
    db.session.remove()
    try:
        backup(db.engine, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="replace a database that is not empty")
@with_appcontext
def restore_command(file, force):
    """Replace the database with the backup in FILE. Stop the app and workers first."""
    from core.audit import audit
    from core.extensions import db

    db.session.remove()
    try:
        restore(db.engine, file, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    audit("restore", actor="cli", details={"file": os.path.basename(file), "forced": force})
    db.session.commit()
    click.echo(f"database restored from {file}")
