"""Statements built once and executed many times with bind parameters.

Building a SQLAlchemy statement and computing its cache key costs a few hundred microseconds of
Python each time, more than SQLite takes to run it; the till path runs a dozen per sale. A
`Prepared` statement is built on first use for each database dialect and then reused: its cache
key is computed once (SQLAlchemy memoizes it on the statement), so executing it goes straight
to the compiled form in the engine's cache. Only the parameters change per call, passed to
`execute` (a list of dicts for many rows: one multi-row INSERT).

A `Prepared` holds nothing but the statement, a function of the schema and the dialect: the same
for every app and database of that dialect, so a module may declare one as a constant.
"""

from __future__ import annotations

import threading
from typing import Callable

from sqlalchemy.sql import Executable


class Prepared:
    """`build(dialect_name)` -> statement, called once per dialect ("postgresql", "sqlite")."""

    def __init__(self, build: Callable[[str], Executable]):
        self._build = build
        self._built: dict[str, Executable] = {}
        self._lock = threading.Lock()

    def statement(self, session) -> Executable:
        """The statement for the database `session` talks to."""
        dialect = session.get_bind().dialect.name
        built = self._built.get(dialect)
        if built is None:
            with self._lock:
                built = self._built.get(dialect)
                if built is None:
                    built = self._built[dialect] = self._build(dialect)
        return built

    def execute(self, session, params=None):
        """`session.execute(statement, params)`."""
        return session.execute(self.statement(session), params)

    def scalars(self, session, params=None):
        """`session.scalars(statement, params)`: ORM entities or the first column."""
        return session.scalars(self.statement(session), params)

