"""Alembic, with one version branch for the core and one per installed plugin."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from flask import current_app

CORE_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def plugin_version_dirs(app) -> dict[str, str]:
    dirs = {}
    for name, manifest in app.extensions["storecrm.plugins"].manifests.items():
        package = manifest.package or (manifest.hooks.rpartition(".")[0] if isinstance(manifest.hooks, str) else None)
        if not package:
            continue
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        versions = os.path.join(list(spec.submodule_search_locations)[0], "migrations", "versions")
        if os.path.isdir(versions):
            dirs[name] = versions
    return dirs


def alembic_config(app=None) -> Config:
    app = app or current_app
    cfg = Config()
    cfg.set_main_option("script_location", CORE_MIGRATIONS)
    locations = [os.path.join(CORE_MIGRATIONS, "versions"), *plugin_version_dirs(app).values()]
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["flask_app"] = app
    return cfg


def upgrade(app=None, revision: str = "heads", on_wait=None) -> list[tuple[str, str]]:
    """Bring the schema of the core and every installed plugin up to date; return the
    (revision, description) of each migration applied, in order.

    One upgrade at a time (core/migration_lock.py): a second one waits for the first, then
    finds nothing pending and applies nothing. `on_wait()` is called once if it has to wait."""
    from core.migration_lock import upgrade_lock

    app = app or current_app._get_current_object()
    with upgrade_lock(app, on_wait=on_wait):
        todo = pending_migrations(app) if revision == "heads" else None
        if todo == []:
            return []
        command.upgrade(alembic_config(app), revision)
    return [(m.revision, m.description) for m in todo or []]


def revision(app, message: str, branch: str, autogenerate: bool = True) -> None:
    """Write a new migration on `branch` ("core" or a plugin's name)."""
    cfg = alembic_config(app)
    if branch == "core":
        version_path = os.path.join(CORE_MIGRATIONS, "versions")
    else:
        version_path = plugin_version_dirs(app)[branch]
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(cfg).get_revisions("heads")
    on_branch = [h for h in heads if branch in (h.branch_labels or set()) or _in_branch(cfg, h, branch)]
    kwargs = {"head": f"{branch}@head"} if on_branch else {"head": "base", "branch_label": branch}
    if not on_branch and branch != "core":
        kwargs["depends_on"] = "core@head"
    cfg.attributes["autogenerate_branch"] = branch
    command.revision(cfg, message=message, autogenerate=autogenerate, version_path=version_path, **kwargs)


def _in_branch(cfg, head, branch: str) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    for rev in script.iterate_revisions(head.revision, "base"):
        if branch in (rev.branch_labels or set()):
            return True
    return False


def table_owner(table: str, app) -> str:
    """Plugin tables carry the plugin's name as prefix (`membership_tier`); the rest are the core's."""
    for name in app.extensions["storecrm.plugins"].manifests:
        if table.startswith(name + "_"):
            return name
    return "core"


# --- the schema's state: which migrations are applied, per owner (core or a plugin) ---------------

def _script(app):
    """Alembic's view of every version file (parsed once per app: a toggle asks for it)."""
    from alembic.script import ScriptDirectory

    cached = app.extensions.get("storecrm.migration_script")
    if cached is None:
        cached = app.extensions["storecrm.migration_script"] = ScriptDirectory.from_config(alembic_config(app))
    return cached


def revision_owners(app) -> dict[str, str]:
    """Each revision id -> its branch ("core" or a plugin's name), found by walking down its
    own branch to the revision that carries the branch label."""
    script = _script(app)
    owners: dict[str, str] = {}
    for rev in script.walk_revisions():
        walk, owner = rev, None
        while walk is not None and owner is None:
            labels = walk.branch_labels or set()
            owner = next(iter(labels), None)
            down = walk.down_revision
            walk = script.get_revision(down) if isinstance(down, str) else None
        owners[rev.revision] = owner or "core"
    return owners


def database_heads(app, connection) -> tuple[set[str], set[str]]:
    """The database's current revisions: (those this code knows, those it does not). An unknown
    one means a newer release upgraded the schema (mid-way through a rolling deploy)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError
    from sqlalchemy import inspect

    if not inspect(connection).has_table("alembic_version"):
        return set(), set()
    known, unknown = set(), set()
    for head in MigrationContext.configure(connection).get_current_heads():
        try:
            (known if _script(app).get_revision(head) is not None else unknown).add(head)
        except CommandError:  # alembic's "no such revision"
            unknown.add(head)
    return known, unknown


def applied_revisions(app, connection) -> set[str]:
    """Every revision the database has (of those this code knows): its heads and all they stand on."""
    known, _unknown = database_heads(app, connection)
    return {rev.revision for rev in _script(app).iterate_revisions(list(known), "base")} if known else set()


@dataclass(frozen=True)
class PendingMigration:
    revision: str
    owner: str  # "core" or the plugin's name
    description: str


def pending_migrations(app=None, connection=None) -> list[PendingMigration]:
    """The migrations of the core and the installed plugins not applied yet, oldest first
    (empty when the schema is current). The one check behind `db upgrade`, the refusal of
    `run`/`worker`/commands, enabling a plugin and `/readyz`."""
    from core.extensions import db

    app = app or current_app._get_current_object()

    def check(conn) -> list[PendingMigration]:
        if database_heads(app, conn)[1]:
            # A newer release ran `db upgrade heads`, which applied every revision this older
            # code knows too: nothing is pending for it (it keeps running during a rolling deploy).
            return []
        applied = applied_revisions(app, conn)
        owners = revision_owners(app)
        todo = [rev for rev in _script(app).walk_revisions() if rev.revision not in applied]
        return [PendingMigration(rev.revision, owners[rev.revision], _first_line(rev.doc)) for rev in reversed(todo)]

    if connection is not None:
        return check(connection)
    # On the request's or command's own session (a second SQLite connection would wait on the
    # first one's write lock), ended at once so no lock is held while the caller goes on.
    from contextlib import nullcontext

    from flask import has_app_context

    inside = has_app_context() and current_app._get_current_object() is app
    with nullcontext() if inside else app.app_context():
        try:
            return check(db.session.connection())
        finally:
            db.session.rollback()


def by_owner(pending: list[PendingMigration]) -> dict[str, list[str]]:
    """Owner -> its pending revision ids, sorted."""
    grouped: dict[str, list[str]] = {}
    for migration in pending:
        grouped.setdefault(migration.owner, []).append(migration.revision)
    return {owner: sorted(revs) for owner, revs in grouped.items()}


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def plugin_has_tables(app, name: str, connection) -> bool:
    """Whether a plugin's first migration ran (a plugin without migrations keeps no tables of its
    own and always "has" them). Export and erasure skip a plugin without tables: it holds no data."""
    owners = revision_owners(app)
    mine = [rev for rev, owner in owners.items() if owner == name]
    if not mine:
        return True
    return bool(set(mine) & applied_revisions(app, connection))


def plugins_with_tables(app, session, names) -> list[str]:
    """Of `names`, the plugins whose tables exist: a plugin installed but never migrated holds
    no data, so export, erasure and merges pass it by instead of failing for every customer."""
    connection = session.connection()
    pending = by_owner(pending_migrations(app, connection))
    return [n for n in names if n not in pending or plugin_has_tables(app, n, connection)]


def pending_message(pending: list[PendingMigration]) -> str | None:
    """A sentence for an operator naming what has not run and the command to run, or None."""
    if not pending:
        return None
    parts = [f"{owner} ({_listed(revs)})" for owner, revs in sorted(by_owner(pending).items())]
    return ("the database schema is not up to date: migrations of " + "; ".join(parts)
            + " have not run: run `storecrm db upgrade` first")


def _listed(revisions: list[str], most: int = 4) -> str:
    """A fresh database has every migration pending: name the first and last, not forty."""
    if len(revisions) <= most:
        return ", ".join(revisions)
    return f"{len(revisions)} migrations, {revisions[0]} to {revisions[-1]}"
