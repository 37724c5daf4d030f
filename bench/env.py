"""Throwaway databases for a benchmark run: an SQLite file (the embedded default) or a
database on a PostgreSQL cluster started for the run (tests/services.py), migrated fresh."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.fernet import Fernet

_names = itertools.count()


@dataclass
class Backend:
    """Where a run's databases live. `redis_url` is set on the PostgreSQL + Redis run."""

    name: str  # "sqlite" or "postgresql"
    workdir: str
    pg_url: object = None  # callable(dbname) -> url, on PostgreSQL
    redis_url: str | None = None
    data_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    _servers: list = field(default_factory=list)
    owns_workdir: bool = False  # made by open_backend: removed by close()
    _template: str | None = None  # the migrated database every fresh one is copied from

    def config(self, database_url: str, **extra) -> dict:
        return {
            "SECRET_KEY": "bench-not-secret",
            "DATA_KEY": self.data_key,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": os.path.join(self.workdir, "instance"),
            "PLUGINS": None,  # every installed plugin, as a shop runs
            "REDIS_URL": self.redis_url,
            "LOCALE": "en",
            **extra,
        }

    def fresh_database(self, label: str) -> str:
        """A new, migrated, empty database; returns its URL. The migrations run once per run,
        on a template every database is then copied from (a file copy, or PostgreSQL's
        CREATE DATABASE … TEMPLATE)."""
        if self._template is None:
            self._template = self._migrated("template")
        name = f"{label}-{next(_names)}"
        if self.name == "sqlite":
            path = os.path.join(self.workdir, f"{name}.db")
            shutil.copy(self._template, path)
            return f"sqlite:///{path}"
        name = "bench_" + name.replace("-", "_")
        self._create(name, template=self._template)
        return self.pg_url(name)

    def _migrated(self, name: str) -> str:
        """Create and migrate database `name`; its file path (SQLite) or name (PostgreSQL)."""
        from core.app import create_app
        from core.extensions import db
        from core.migrate import upgrade

        if self.name == "sqlite":
            target = os.path.join(self.workdir, f"{name}-{next(_names)}.db")
            url = f"sqlite:///{target}"
        else:
            target = f"bench_{name}_{next(_names)}"
            self._create(target)
            url = self.pg_url(target)
        app = create_app(self.config(url))
        upgrade(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # closing the last connection folds SQLite's WAL into the file
        return target

    def _create(self, name: str, template: str | None = None) -> None:
        admin = sa.create_engine(self.pg_url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        admin.dispose()

    def close(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def open_backend(name: str, workdir: str | None = None, postgres=None, redis=None) -> Backend:
    """`postgres`/`redis`: already running servers (the test suite's), else started here."""
    owns = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix=f"storecrm-bench-{name}-")
    if name == "sqlite":
        backend = Backend("sqlite", workdir)
        backend.owns_workdir = owns
        return backend
    from tests.services import PostgresServer, RedisServer

    backend = Backend("postgresql", workdir)
    backend.owns_workdir = owns
    if postgres is None:
        postgres = PostgresServer()
        if not postgres.available:
            raise RuntimeError("PostgreSQL is not installed (Debian: postgresql)")
        postgres.start()
        backend._servers.append(postgres)
    if redis is None:
        redis = RedisServer()
        if not redis.available:
            raise RuntimeError("redis-server is not installed (Debian: redis-server)")
        redis.start()
        backend._servers.append(redis)
    backend.pg_url = postgres.url
    backend.redis_url = redis.url
    return backend
