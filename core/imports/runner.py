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
    would_create: int = 0  # --all-or-nothing rolled back: what the valid rows would have done
    would_update: int = 0
    with_events: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # the first KEPT_ERRORS: {line, field, reason}
    report_path: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


REASON_HEADER = "错误原因 reason"


class _Rejects:
    """Rejected rows: counted, the first ones kept, and every one written to the report file
    with its original cells plus a reason column, in the source's format (CSV or XLSX), so a
    person fixes the file and imports it again as it is. The cells come from `remember`, fed
    as rows are read and dropped once their chunk is written (memory stays flat)."""

    def __init__(self, report: ImportReport, path: str | None):
        self.report = report
        self.path = path
        self.headers: list[str] = []
        self.format = "csv"
        self.delimiter = ","
        self._cells: dict[int, list] = {}
        self._file = None
        self._writer = None
        self._book = None
        self._sheet = None

    def start(self, table) -> None:
        self.headers = list(table.headers)
        self.format = "xlsx" if self.path and self.path.lower().endswith(".xlsx") else "csv"
        self.delimiter = getattr(table, "delimiter", ",")

    def remember(self, rows):
        for line, cells in rows:
            self._cells[line] = cells
            yield line, cells

    def forget_through(self, line: int) -> None:
        for seen in [k for k in self._cells if k <= line]:
            del self._cells[seen]

    def reject(self, lines: list[int], problems: dict[str, str]) -> None:
        """One rejected record (a customer row, or a sale's receipt lines) and its problems."""
        for field_name, reason in problems.items():
            if len(self.report.errors) < KEPT_ERRORS:
                self.report.errors.append({"line": lines[0], "field": field_name, "reason": reason})
        if not self.path:
            return
        text = "; ".join(f"{f}: {r}" if f else r for f, r in problems.items())
        for line in lines:
            cells = ["" if c is None else c for c in self._cells.get(line, [])]
            cells += [""] * (len(self.headers) - len(cells))
            self._write(cells[:len(self.headers)] + [f"第{line}行 line {line}: {text}"])

    def _write(self, row: list) -> None:
        if self.format == "xlsx":
            if self._book is None:
                from openpyxl import Workbook

                self._book = Workbook(write_only=True)
                self._sheet = self._book.create_sheet()
                self._sheet.append(self.headers + [REASON_HEADER])
            self._sheet.append(row)
            return
        if self._writer is None:
            self._file = open(self.path, "w", newline="", encoding="utf-8-sig")
            self._writer = csv.writer(self._file, delimiter=self.delimiter)
            self._writer.writerow(self.headers + [REASON_HEADER])
        self._writer.writerow(row)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._book is not None:
            self._book.save(self.path)
            self._book = None


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
    rejects.start(table)
    table.rows = rejects.remember(_counted(table.rows, report))
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
                rejects.forget_through(line)
                done_since_flush += 1
                if done_since_flush >= batch_size:
                    _end_batch(session, all_or_nothing)
                    done_since_flush = 0
                    if progress:
                        progress(table.position(), table.size)
        if all_or_nothing and report.rejected:
            session.rollback()
            report.committed = False
            # Nothing was written: the counts say so (the valid rows are "would be" counts).
            report.would_create, report.would_update = report.created, report.updated
            report.created = report.updated = 0
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


def _count(line: int | list[int], outcome, report: ImportReport, rejects: _Rejects) -> None:
    report.records += 1
    if isinstance(outcome, str):
        setattr(report, outcome, getattr(report, outcome) + 1)
        return
    report.rejected += 1
    lines = line if isinstance(line, list) else [line]
    if isinstance(outcome, RowError):
        rejects.reject(lines, dict(outcome.problems))
        return
    fields = outcome.fields or {"": [outcome.message]}
    rejects.reject(lines, {field_name: "; ".join(reasons) if isinstance(reasons, list) else str(reasons)
                           for field_name, reasons in fields.items()})


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
    rejects.forget_through(chunk[-1][0])


def _run_sale_chunks(session, units, writer, report, rejects, batch_size, all_or_nothing, progress, table):
    """Sales a chunk at a time through the batch service: written together, a bad one then on
    its own in a savepoint, so it is rejected and the rest of its chunk kept."""
    chunk: list = []
    for item in units:
        chunk.append(item)
        if len(chunk) >= batch_size:
            _write_sales(chunk, writer, report, rejects)
            _end_batch(session, all_or_nothing)
            chunk = []
            if progress:
                progress(table.position(), table.size)
    if chunk:
        _write_sales(chunk, writer, report, rejects)


def _write_sales(chunk, writer, report, rejects) -> None:
    for (_, unit), (line, outcome) in zip(chunk, writer.write(chunk)):
        _count(unit.get("lines") or [line], outcome, report, rejects)
    rejects.forget_through(max(chunk[-1][1].get("lines") or [chunk[-1][0]]))


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


def _looks_like_sales(headers, column_map) -> bool:
    sale_mapping, _ = col.map_headers(headers, col.SALE_COLUMNS, column_map)
    return "occurred_at" in sale_mapping and any(f in sale_mapping for f in ("total", "sku", "external_id"))


def _looks_like_customers(headers, column_map) -> bool:
    mapping, _ = col.map_headers(headers, col.CUSTOMER_COLUMNS, column_map)
    return "name" in mapping and any(f in mapping for f in ("phone", "code"))


def _contradiction(first: dict, later: dict) -> str | None:
    """The first field two parsed customer rows both fill with different single values."""
    for key, value in later.items():
        other = first.get(key)
        if isinstance(value, (list, dict)) or value in (None, "") or other in (None, ""):
            continue
        if value != other:
            return key
    return None


def _delimiter_hint(headers: list[str]) -> str:
    """A file cut on the wrong separator has one long header: say which one it seems to use."""
    if len(headers) == 1:
        for sep, name in ((";", "semicolons (;)"), ("\t", "tabs"), ("|", "bars (|)")):
            if sep in headers[0]:
                return f" The header row seems separated by {name}, not commas: save the file as a comma-separated CSV."
    return ""


def _plan(session, kind, table, report, store, column_map, with_events, user, actor):
    if kind == "customers" and _looks_like_sales(table.headers, column_map):
        raise InvalidInput(
            "this looks like a sales file (it has a date and an amount, receipt or product column), not a "
            "customer list: import it with `storecrm import sales`",
            fields={"headers": ["Sales columns found: " + ", ".join(h for h in table.headers if h) + "."]})
    if kind == "customers":
        mapping, unknown = col.map_headers(table.headers, col.CUSTOMER_COLUMNS, column_map)
        if not any(f in mapping for f in customer_rows.REQUIRED_ANY):
            raise InvalidInput(
                "no customer columns found in the header row: " + ", ".join(table.headers[:20]),
                fields={"headers": ["Expected columns such as 姓名/name, 手机号/phone, 会员卡号/code; got "
                                    + ", ".join(h for h in table.headers if h) + "." + _delimiter_hint(table.headers)]})
        report.unknown_columns = unknown
        store_code = store.code if store is not None else None

        def units():
            first_with_code: dict[str, tuple[int, dict]] = {}
            for line, cells in table.rows:
                try:
                    value = customer_rows.parse(cells, mapping)
                except RowError as exc:
                    yield line, ("bad", exc)
                    continue
                code = value.get("code")
                if code:
                    # The same card number twice in one file: a later row may add to the profile
                    # (empty cells change nothing, lists merge), but one that contradicts the
                    # first (another name, phone, birthday...) is for a person to settle.
                    seen = first_with_code.setdefault(code, (line, value))
                    clash = _contradiction(seen[1], value) if seen[0] != line else None
                    if clash:
                        yield line, ("bad", RowError({clash: f"card {code} is on line {seen[0]} too, with another "
                                                             f"{clash}: keep the right one"}))
                        continue
                yield line, ("ok", value)

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
        hint = _delimiter_hint(table.headers)
        if not hint and _looks_like_customers(table.headers, column_map):
            hint = " This looks like a customer list: import it with `storecrm import customers`."
        raise InvalidInput("the sale file lacks columns: " + ", ".join(missing) + "." + hint,
                           fields={"headers": [f"Missing {m}." for m in missing] + ([hint.strip()] if hint else [])})
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
