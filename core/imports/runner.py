"""One import run: stream the file, write in batches, report every rejected row."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.exc import IntegrityError

from core.errors import DomainError, InvalidInput
from core.imports import columns as col
from core.imports import customers as customer_rows
from core.imports import sales as sale_rows
from core.imports.columns import RowError
from core.imports.readers import open_table

log = logging.getLogger(__name__)
KEPT_ERRORS = 200  # shown on screen / in the admin; the report file has them all


@dataclass
class ImportReport:
    kind: str
    file: str
    rows: int = 0  # data rows read from the file
    records: int = 0  # customers or sales they make (a receipt's lines are one sale)
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    committed: bool = False
    all_or_nothing: bool = False
    with_events: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # the first KEPT_ERRORS: {line, field, reason}
    report_path: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _Rejects:
    """Rejected rows: counted, the first ones kept, all of them streamed to the report file."""

    def __init__(self, report: ImportReport, path: str | None):
        self.report = report
        self.path = path
        self._file = None
        self._writer = None

    def add(self, line: int, field: str, reason: str) -> None:
        entry = {"line": line, "field": field, "reason": reason}
        if len(self.report.errors) < KEPT_ERRORS:
            self.report.errors.append(entry)
        if self.path:
            if self._writer is None:
                self._file = open(self.path, "w", newline="", encoding="utf-8-sig")
                self._writer = csv.DictWriter(self._file, fieldnames=["line", "field", "reason"])
                self._writer.writeheader()
            self._writer.writerow(entry)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def run_import(session, kind: str, path: str, *, store=None, all_or_nothing: bool = False,
               with_events: bool = False, batch_size: int = 500, report_path: str | None = None,
               column_map: dict[str, str] | None = None, progress: Callable[[int, int], None] | None = None,
               user=None, actor: str = "import", on_batch: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Import `path` (CSV or XLSX) of `kind` "customers" or "sales".

    Valid rows are committed every `batch_size` rows and the rejected ones reported; with
    `all_or_nothing` the run is one transaction that is rolled back if any row is rejected.
    `with_events` delivers `customer_created` / `sale_recorded` to plugins per row (off by
    default: years of history should not earn points or send messages). A file whose headers
    name none of the needed columns is refused before any row is read (InvalidInput).
    `on_batch(report)` is called after each batch is written (committed unless all-or-nothing),
    with the counts so far: the admin's import page shows them while the job runs."""
    if kind not in ("customers", "sales"):
        raise InvalidInput(f"unknown import kind {kind}", fields={"kind": ["customers or sales"]})
    table = open_table(path)
    report = ImportReport(kind=kind, file=os.path.basename(path), all_or_nothing=all_or_nothing,
                          with_events=with_events, report_path=report_path)
    rejects = _Rejects(report, report_path)
    table.rows = _counted(table.rows, report)
    if on_batch is not None:
        outer_progress = progress

        def progress(position, size):
            if outer_progress:
                outer_progress(position, size)
            on_batch(report)
    try:
        units, apply = _plan(session, kind, table, report, store, column_map, with_events, user, actor)
        # Customers without per-row events are written a chunk at a time (ChunkWriter).
        chunked = (customer_rows.ChunkWriter(session, store.code if store is not None else None)
                   if kind == "customers" and not with_events else None)
        if chunked is not None:
            _run_chunks(session, units, chunked, apply, report, rejects, batch_size, all_or_nothing,
                        progress, table)
        elif kind == "sales":
            _run_sale_chunks(session, units, sale_rows.ChunkWriter(session, with_events=with_events, user=user,
                                                                   actor=actor),
                             report, rejects, batch_size, all_or_nothing, progress, table)
        else:
            done_since_flush = 0
            for line, unit in units:
                _one(session, apply, line, unit, report, rejects)
                done_since_flush += 1
                if done_since_flush >= batch_size:
                    _end_batch(session, all_or_nothing)
                    done_since_flush = 0
                    if progress:
                        progress(table.position(), table.size)
        if all_or_nothing and report.rejected:
            session.rollback()
            report.committed = False
        else:
            session.commit()
            report.committed = True
        if progress:
            progress(table.size, table.size)
    except BaseException:
        session.rollback()
        raise
    finally:
        rejects.close()
        table.close()
    if report.committed and kind == "sales" and report.created and not with_events:
        # The per-sale class updates were skipped: one set-based recompute instead.
        from core.classification.compute import recompute_all

        recompute_all(session)
    return report


def _one(session, apply, line, unit, report: ImportReport, rejects: _Rejects) -> None:
    """One record in its own savepoint: a row that fails half-way leaves nothing behind. No
    autoflush inside: the row's own lookups need not write its pending objects."""
    try:
        with session.begin_nested(), session.no_autoflush:
            outcome = apply(unit)
    except (RowError, DomainError) as exc:
        outcome = exc
    _count(line, outcome, report, rejects)


def _count(line: int, outcome, report: ImportReport, rejects: _Rejects) -> None:
    report.records += 1
    if isinstance(outcome, str):
        setattr(report, outcome, getattr(report, outcome) + 1)
        return
    report.rejected += 1
    if isinstance(outcome, RowError):
        for field_name, reason in outcome.problems.items():
            rejects.add(line, field_name, reason)
        return
    fields = outcome.fields or {"": [outcome.message]}
    for field_name, reasons in fields.items():
        rejects.add(line, field_name, "; ".join(reasons) if isinstance(reasons, list) else str(reasons))


def _run_chunks(session, units, writer, apply, report, rejects, batch_size, all_or_nothing, progress, table):
    chunk: list = []
    for item in units:
        chunk.append(item)
        if len(chunk) >= batch_size:
            _write_chunk(session, chunk, writer, apply, report, rejects)
            _end_batch(session, all_or_nothing)
            chunk = []
            if progress:
                progress(table.position(), table.size)
    if chunk:
        _write_chunk(session, chunk, writer, apply, report, rejects)


def _write_chunk(session, chunk, writer, apply, report, rejects) -> None:
    """The chunk in one savepoint: one prefetch, rows applied in memory, one flush. Outcomes are
    counted only once that savepoint holds."""
    outcomes = []
    try:
        with session.begin_nested(), session.no_autoflush:
            writer.prefetch([value for _, (status, value) in chunk if status == "ok"])
            for line, (status, value) in chunk:
                if status == "bad":
                    outcomes.append((line, value))
                    continue
                try:
                    outcomes.append((line, writer.apply(value)))
                except RowError as exc:  # raised before the row changed anything
                    outcomes.append((line, exc))
            session.flush()
    except (DomainError, IntegrityError):
        # Something only the database knew (a card number an erased profile still holds, a
        # concurrent writer): this chunk again row by row, each row in its own savepoint.
        log.info("import chunk fell back to row by row", exc_info=True)
        for line, unit in chunk:
            _one(session, apply, line, unit, report, rejects)
        return
    for line, outcome in outcomes:
        _count(line, outcome, report, rejects)


def _run_sale_chunks(session, units, writer, report, rejects, batch_size, all_or_nothing, progress, table):
    """Sales a chunk at a time through the batch service: each sale in its own savepoint, so a
    bad one is rejected and the rest of its chunk kept."""
    chunk: list = []
    for item in units:
        chunk.append(item)
        if len(chunk) >= batch_size:
            for line, outcome in writer.write(chunk):
                _count(line, outcome, report, rejects)
            _end_batch(session, all_or_nothing)
            chunk = []
            if progress:
                progress(table.position(), table.size)
    if chunk:
        for line, outcome in writer.write(chunk):
            _count(line, outcome, report, rejects)


def _counted(rows, report: ImportReport):
    for item in rows:
        report.rows += 1
        yield item


def _end_batch(session, all_or_nothing: bool) -> None:
    """Write the batch; outside all-or-nothing commit it. Flushed rows are held only weakly
    by the session, so memory stays flat however long the file is."""
    session.flush()
    if not all_or_nothing:
        session.commit()


def _plan(session, kind, table, report, store, column_map, with_events, user, actor):
    if kind == "customers":
        mapping, unknown = col.map_headers(table.headers, col.CUSTOMER_COLUMNS, column_map)
        if not any(f in mapping for f in customer_rows.REQUIRED_ANY):
            raise InvalidInput(
                "no customer columns found in the header row: " + ", ".join(table.headers[:20]),
                fields={"headers": ["Expected columns such as 姓名/name, 手机号/phone, 会员卡号/code; got "
                                    + ", ".join(h for h in table.headers if h) + "."]})
        report.unknown_columns = unknown
        store_code = store.code if store is not None else None

        def units():
            for line, cells in table.rows:
                try:
                    yield line, ("ok", customer_rows.parse(cells, mapping))
                except RowError as exc:
                    yield line, ("bad", exc)

        def apply(unit):
            status, value = unit
            if status == "bad":
                raise value
            return customer_rows.apply(session, value, store=_home(session, value, store_code),
                                       with_events=with_events, user=user, actor=actor)

        return units(), apply
    mapping, unknown = col.map_headers(table.headers, col.SALE_COLUMNS, column_map)
    missing = [f for f in ("occurred_at",) if f not in mapping]
    if "total" not in mapping and "sku" not in mapping:
        missing.append("total or sku")
    if "store" not in mapping and store is None:
        missing.append("store (or --store)")
    if missing:
        raise InvalidInput("the sale file lacks columns: " + ", ".join(missing),
                           fields={"headers": [f"Missing {m}." for m in missing]})
    report.unknown_columns = unknown
    grouped = sale_rows.SaleRows(session, mapping, store)
    return grouped.units(table.rows), None  # written by sale_rows.ChunkWriter


def _home(session, data: dict, store_code: str | None):
    """The store a new profile belongs to: the row's 门店 column, else --store."""
    from sqlalchemy import select

    from core.models import Store

    code = data.get("home_store") or store_code
    if not code:
        return None
    found = session.scalars(select(Store).where(Store.code == code)).first()
    if found is None:
        raise RowError({"home_store": f"unknown store {code}"})
    return found
