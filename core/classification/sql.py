"""Two portable SQL helpers the classification and analytics queries need, compiled per
backend: whole seconds between two stored UTC times, and a JSON object built in SQL."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):
    """`a - b` in whole seconds (each side truncated to the second, identically on both
    backends, so a boundary falls on the same side in SQLite and PostgreSQL)."""

    type = BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST(strftime('%s', {a}) AS INTEGER) - CAST(strftime('%s', {b}) AS INTEGER))"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element, compiler, **kw):
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return (f"(CAST(EXTRACT(EPOCH FROM date_trunc('second', {a})) AS BIGINT)"
            f" - CAST(EXTRACT(EPOCH FROM date_trunc('second', {b})) AS BIGINT))")


class json_object(FunctionElement):
    """`json_object(k1, v1, k2, v2...)` in SQLite, `json_build_object` in PostgreSQL."""

    type = JSON()
    inherit_cache = True
    name = "json_object"


@compiles(json_object, "sqlite")
def _json_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_pg(element, compiler, **kw):
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class unindexed(FunctionElement):
    """A column the query must read without walking its index: `col + 0` in SQLite, whose
    planner would otherwise walk e.g. ix_sale_store_time and fetch each row by id when most
    rows are read anyway (a scan and a sort are several times faster); the bare column in
    PostgreSQL, whose planner costs that right and has no statistics for an expression (it
    would guess a few thousand rows for a whole store and size hashes and sorts for that)."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return f"({compiler.process(element.clauses, **kw)} + 0)"


@compiles(unindexed, "postgresql")
def _unindexed_pg(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)
