"""Open a CSV or XLSX file as a header row and a lazy stream of (line number, cells)."""

from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass
from typing import Callable, Iterator

from core.errors import InvalidInput


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list]]  # (line number as a spreadsheet shows it, cells)
    size: int  # for the progress bar: bytes (CSV) or rows (XLSX)
    position: Callable[[], int]  # how far the stream is, in the same unit as `size`
    close: Callable[[], None]
    format: str = "csv"  # "csv" or "xlsx": the rejects file is written in the same format
    delimiter: str = ","


def open_table(path: str) -> Table:
    ext = os.path.splitext(path)[1].lower()
    if ext in (".xlsx", ".xlsm"):
        return _open_xlsx(path)
    if ext in (".csv", ".txt", ""):
        return _open_csv(path)
    raise InvalidInput(f"{os.path.basename(path)}: only CSV and XLSX files can be imported",
                       fields={"file": [f"Unsupported file type {ext}."]})


def _encoding(path: str) -> str:
    """UTF-8 (with or without BOM) or, as Chinese Excel saves CSV, GB18030."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut by the 64 KiB boundary
            return "utf-8"
        return "gb18030"


DELIMITERS = ",;\t|"


def _delimiter(path: str, encoding: str) -> str:
    """The separator Excel or another system used: a comma, or a semicolon (European Excel),
    a tab or a bar, sniffed from the first lines."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(16 * 1024)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _open_csv(path: str) -> Table:
    encoding = _encoding(path)
    delimiter = _delimiter(path, encoding)
    raw = open(path, "rb")
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raw.close()
        raise InvalidInput("the file is empty", fields={"file": ["No header row."]}) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raw.close()
        raise InvalidInput(f"not a readable CSV file: {exc}", fields={"file": [str(exc)]}) from exc

    def rows():
        line = 1
        try:
            for cells in reader:
                line = reader.line_num
                if any(c.strip() for c in cells):
                    yield line, cells
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InvalidInput(f"line {line + 1}: not readable: {exc}", fields={"file": [str(exc)]}) from exc

    # close=text.close keeps the wrapper alive: collected once `rows` is exhausted, it would close
    # `raw` under position() (a sale importer reads one row past a receipt before writing it).
    return Table(headers=[h.strip() for h in headers], rows=rows(), size=os.path.getsize(path),
                 position=raw.tell, close=text.close, format="csv", delimiter=delimiter)


def _open_xlsx(path: str) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"{os.path.basename(path)} is not a readable XLSX workbook",
                           fields={"file": [f"Not an XLSX workbook: {exc}"]}) from exc
    sheet = book.worksheets[0]
    stream = sheet.iter_rows(values_only=True)
    try:
        headers = ["" if h is None else str(h).strip() for h in next(stream)]
    except StopIteration:
        book.close()
        raise InvalidInput("the workbook's first sheet is empty", fields={"file": ["No header row."]}) from None
    seen = {"line": 1}

    def rows():
        for line, cells in enumerate(stream, start=2):
            seen["line"] = line
            if cells and any(c is not None and str(c).strip() for c in cells):
                yield line, list(cells)

    return Table(headers=headers, rows=rows(), size=sheet.max_row or 0, position=lambda: seen["line"],
                 close=book.close, format="xlsx")
