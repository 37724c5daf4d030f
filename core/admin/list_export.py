"""A customer list as a CSV or XLSX download: the rows the person sees (same scope, filters and
search), phones masked unless their role sees them in full, and the export audited.

The file is built in memory and streamed: nothing is left on the server's disk."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
MAX_ROWS = 20000  # a branch's whole customer file; a chain exports per store


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def table_bytes(header: list[str], rows: list[list], fmt: str, title: str) -> bytes:
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title[:31])
        sheet.append(header)
        for row in rows:
            sheet.append([float(v) if isinstance(v, Decimal) else _cell(v) for v in row])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([format(v, "f") if isinstance(v, Decimal) else _cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read Chinese


def download(header: list[str], rows: list[list], fmt: str, name: str) -> Response:
    fmt = fmt if fmt in FORMATS else "csv"
    content = table_bytes(header, rows, fmt, name)
    mimetype = XLSX if fmt == "xlsx" else "text/csv; charset=utf-8"
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    # An ASCII name for old clients and the reader's language for the others (RFC 6266).
    disposition = (f'attachment; filename="export-{stamp}.{fmt}"; '
                   f"filename*=UTF-8''{quote(f'{name}-{stamp}.{fmt}')}")
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": disposition,
                                                         "Cache-Control": "no-store"})
