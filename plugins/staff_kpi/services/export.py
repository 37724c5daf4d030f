"""The commission payout report as CSV or XLSX (openpyxl), with headers in the reader's language."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _


def _table(payout: dict) -> tuple[list[str], list[list]]:
    basis = _("Net sales") if payout["basis"] == "sales" else _("Gross profit")
    header = [_("Username"), _("Name"), _("Commission on"), _("Amount"), _("Target"), _("Attainment (%)"),
              _("Rate (%)"), _("Payout")]
    rows = [[r["username"], r["display_name"], basis, r["basis_amount"], r["target_amount"], r["attainment_percent"],
             r["rate_percent"], r["payout"]] for r in payout["rows"]]
    rows.append(["", _("Total"), "", "", "", "", "", payout["total_payout"]])
    return header, rows


def commission_csv(payout: dict) -> bytes:
    header, rows = _table(payout)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else (format(v, "f") if hasattr(v, "as_tuple") else v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read Chinese correctly


def commission_xlsx(payout: dict, title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    header, rows = _table(payout)
    sheet.append(header)
    for row in rows:
        sheet.append([float(v) if hasattr(v, "as_tuple") else v for v in row])
    for column in ("D", "E", "H"):
        for cell in sheet[column][1:]:
            cell.number_format = "#,##0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def commission_file(payout: dict, store_code: str, month: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, mimetype, filename) of the payout as `fmt` ("csv" or "xlsx")."""
    name = f"commission-{store_code}-{month}"
    if fmt == "xlsx":
        return commission_xlsx(payout, name), XLSX, f"{name}.xlsx"
    return commission_csv(payout), "text/csv; charset=utf-8", f"{name}.csv"
