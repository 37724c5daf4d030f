"""Import rows that contradict what was imported before, files of the wrong kind or
separator, a rejects file fixed and imported again, and an honest --all-or-nothing summary."""

from __future__ import annotations

import csv

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from core.extensions import db
from core.models import Sale
from tests.imports.test_customers_import import run


def customers_file(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("会员卡号,姓名,手机号\nVIP1,张三,13900000001\nVIP2,李四,13900000002\n", encoding="utf-8")
    return path


def test_a_receipt_imported_before_with_another_amount_is_a_conflict_naming_the_earlier_sale(app, chain, tmp_path):
    assert run(app, "customers", customers_file(tmp_path), "--store", "SH001").exit_code == 0
    first = tmp_path / "march.csv"
    first.write_text("门店,单号,消费日期,会员卡号,金额\nSH001,A1,2026-03-01 10:00,VIP1,50\n", encoding="utf-8")
    assert "1 created" in run(app, "sales", first).output
    again = tmp_path / "march-again.csv"
    again.write_text("门店,单号,消费日期,会员卡号,金额\n"
                     "SH001,A1,2026-03-01 10:00,VIP1,50\n"      # identical: imported before
                     "SH001,A1,2026-03-01 10:00,VIP1,80\n",     # same receipt, other amount
                     encoding="utf-8")
    result = run(app, "sales", again)
    assert "2 rows, 2 sales: 0 created, 0 updated, 1 skipped (imported before), 1 rejected" in result.output, result.output
    assert "line 3: external_id: receipt A1 is on line 2 too" in result.output
    other = tmp_path / "march-other.csv"
    other.write_text("门店,单号,消费日期,会员卡号,金额\nSH001,A1,2026-03-02 10:00,VIP1,50\n", encoding="utf-8")
    result = run(app, "sales", other)
    assert "1 rejected" in result.output
    assert "line 2: external_id: receipt A1 was imported before (sale #" in result.output
    assert "with another date and time" in result.output
    with app.app_context():
        assert [str(s.total) for s in db.session.scalars(select(Sale))] == ["50.00"]  # nothing changed


def test_contradicting_rows_for_one_card_are_rejected_and_additions_merge(app, chain, tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("会员卡号,姓名,手机号,爱好\nVIP9,王五,13900000009,跑步\nVIP9,,,阅读\nVIP9,赵六,,\n", encoding="utf-8")
    result = run(app, "customers", path, "--store", "SH001")
    assert "3 rows, 3 customers: 1 created, 1 updated, 0 skipped (imported before), 1 rejected" in result.output, \
        result.output
    assert "line 4: name: card VIP9 is on line 2 too, with another name" in result.output


def test_the_xlsx_rejects_file_is_fixed_and_imported_again_as_it_is(app, chain, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["会员卡号", "姓名", "手机号", "邮箱"])
    sheet.append(["X1", "甲", "13900000011", "jia@example.cn"])
    sheet.append(["X2", "乙", "12345", "yi@example.cn"])        # bad phone
    sheet.append(["X3", "丙", "13900000013", "bing@example"])   # bad email
    path = tmp_path / "list.xlsx"
    book.save(path)
    result = run(app, "customers", path, "--store", "SH001")
    assert "1 created" in result.output and "2 rejected" in result.output
    rejects = tmp_path / "list.rejected.xlsx"
    assert f"every rejected row is in {rejects}" in result.output
    fixed = load_workbook(rejects)
    rows = [list(r) for r in fixed.active.iter_rows(values_only=True)]
    assert rows[0] == ["会员卡号", "姓名", "手机号", "邮箱", "错误原因 reason"]
    assert [r[:4] for r in rows[1:]] == [["X2", "乙", "12345", "yi@example.cn"], ["X3", "丙", "13900000013", "bing@example"]]
    assert "phone" in rows[1][4] and "email" in rows[2][4]
    fixed.active["C2"] = "13900000012"
    fixed.active["D3"] = "bing@example.cn"
    fixed.save(rejects)
    result = run(app, "customers", rejects, "--store", "SH001")
    assert "2 rows, 2 customers: 2 created, 0 updated, 0 skipped (imported before), 0 rejected" in result.output, \
        result.output


def test_all_or_nothing_says_nothing_was_created(app, chain, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("会员卡号,姓名,手机号\nN1,甲,13900000021\nN2,乙,12345\nN3,丙,13900000023\n", encoding="utf-8")
    result = run(app, "customers", path, "--all-or-nothing")
    assert result.exit_code == 1
    assert ("3 rows, 3 customers: 1 rejected, so nothing was imported (--all-or-nothing); without them 2 would be "
            "created, 0 updated, 0 skipped (imported before)") in result.output, result.output
    assert "2 created" not in result.output


def test_a_sales_file_imported_as_customers_is_refused_with_the_right_command(app, chain, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("门店,单号,消费日期,手机号,金额\nSH001,S1,2026-03-01 10:00,13900000001,50\n", encoding="utf-8")
    result = run(app, "customers", path)
    assert result.exit_code == 1
    assert "this looks like a sales file" in result.output and "storecrm import sales" in result.output
    people = tmp_path / "people.csv"
    people.write_text("会员卡号,姓名,手机号\nVIP1,张三,13900000001\n", encoding="utf-8")
    result = run(app, "sales", people, "--store", "SH001")
    assert result.exit_code == 1 and "This looks like a customer list" in result.output, result.output


def test_a_semicolon_separated_file_is_read_and_its_rejects_keep_the_separator(app, chain, tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("会员卡号;姓名;手机号\nE1;甲;13900000031\nE2;乙;12345\n", encoding="utf-8")
    result = run(app, "customers", path, "--store", "SH001")
    assert "1 created" in result.output and "1 rejected" in result.output, result.output
    with open(tmp_path / "euro.rejected.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[1][:3] == ["E2", "乙", "12345"]
