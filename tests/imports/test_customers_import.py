"""Importing customer lists: the sample export, duplicates, bad files, all-or-nothing."""

from __future__ import annotations

import csv
import shutil

import pytest
from sqlalchemy import func, select

from core.cli import cli
from core.extensions import db
from core.models import Customer, Event
from tests.data import CUSTOMERS_ZH

SAMPLE = CUSTOMERS_ZH  # 8 rows as a store exports them: 5 good, 3 rejected


@pytest.fixture
def sample(tmp_path):
    target = tmp_path / "customers_zh.csv"
    shutil.copy(SAMPLE, target)
    return target


def run(app, *args):
    return app.test_cli_runner().invoke(cli, ["import", *map(str, args)], catch_exceptions=False)


def profiles(app):
    with app.app_context():
        return {c.name: c for c in db.session.scalars(select(Customer)).all()}


def test_the_sample_export_imports_its_good_rows_and_reports_the_rest(app, chain, sample):
    result = run(app, "customers", sample, "--store", "SH001")
    assert result.exit_code == 0, result.output
    assert "8 rows, 8 customers: 5 created, 0 updated, 0 skipped (imported before), 3 rejected" in result.output
    assert "line 6: phone: not a valid phone number: 12345" in result.output
    assert "line 6: email: not an email address: chenjing@example" in result.output
    assert "line 7: phone: already belongs to customer VIP0001 张伟" in result.output
    assert "line 8: birthday:" in result.output
    # The rejects file is the rejected rows as they were, plus a reason: fix it and import it again.
    with open(sample, encoding="utf-8-sig") as f:
        original = list(csv.reader(f))
    with open(sample.with_suffix(".rejected.csv"), encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == original[0] + ["错误原因 reason"]
    assert [r[:-1] for r in rows[1:]] == [original[5], original[6], original[7]]  # lines 6, 7, 8
    assert "phone: not a valid phone number: 12345" in rows[1][-1] and "email:" in rows[1][-1]
    assert rows[2][-1].startswith("第7行 line 7: phone: already belongs") and "birthday" in rows[3][-1]
    with app.app_context():
        people = {c.name: c for c in db.session.scalars(select(Customer)).all()}
        assert set(people) == {"张伟", "王芳", "李娜", "刘洋", "周杰"}  # 杨磊 is 张伟's phone: not a second profile
        zw = people["张伟"]
        assert (zw.code, zw.phone, zw.gender, zw.birthday) == ("VIP0001", "+8613800138000", "male", "1985-03-12")
        assert zw.preferences == {"咖啡": "热 不加糖"} and zw.hobbies == ["跑步"] and zw.tags == ["常客"]
        assert zw.notes == "喜欢靠窗的位置" and zw.home_store.code == "SH001" and zw.source_channel == "import"
        assert people["王芳"].hobbies == ["阅读", "烘焙"] and people["王芳"].phone == "+8613901234567"
        assert people["李娜"].birthday == "--02-29" and people["李娜"].preferences == {"尺码": "M", "风格": "简约"}
        assert people["刘洋"].phone == "+8613811112222"
        assert people["周杰"].code is None and people["周杰"].email == "zhou@example.cn"
        # History imports are quiet: no customer_created event per row.
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_importing_again_updates_the_same_profiles(app, chain, sample):
    run(app, "customers", sample, "--store", "SH001")
    result = run(app, "customers", sample, "--store", "SH001")
    assert "0 created, 5 updated" in result.output
    assert len(profiles(app)) == 5


def test_an_existing_phone_updates_that_profile_and_merges_preferences(app, chain, api, tmp_path):
    made = api.post("/customers", {"name": "张伟", "phone": "13800138000", "preferences": {"蛋糕": "少糖"},
                                   "tags": ["老客"]}, token=chain.till)
    assert made.status_code == 201
    path = tmp_path / "one.csv"
    path.write_text("手机号,姓名,偏好,标签\n138-0013-8000,张伟,咖啡:热,常客\n", encoding="utf-8")
    result = run(app, "customers", path)
    assert "0 created, 1 updated" in result.output
    with app.app_context():
        who = db.session.get(Customer, made.json["id"])
        assert who.preferences == {"蛋糕": "少糖", "咖啡": "热"} and who.tags == ["常客", "老客"]


def test_all_or_nothing_commits_nothing_when_a_row_is_rejected(app, chain, sample):
    result = run(app, "customers", sample, "--store", "SH001", "--all-or-nothing")
    assert result.exit_code == 1
    assert "nothing was imported" in result.output and "3 rejected" in result.output
    assert profiles(app) == {}


def test_all_or_nothing_commits_a_clean_file(app, chain, tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text("name,phone,birthday\nAnna,13700000009,--05-01\nBen,13700000010,1990-01-02\n", encoding="utf-8")
    result = run(app, "customers", path, "--all-or-nothing", "--batch-size", "1")
    assert result.exit_code == 0 and "2 created" in result.output
    assert set(profiles(app)) == {"Anna", "Ben"}


def test_wrong_headers_are_refused_before_any_row(app, chain, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    result = run(app, "customers", path)
    assert result.exit_code != 0
    assert "no customer columns found" in result.output and "姓名/name" in result.output
    assert profiles(app) == {}


def test_a_broken_xlsx_is_refused_with_a_reason(app, chain, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a zip file at all")
    result = run(app, "customers", path)
    assert result.exit_code != 0 and "not a readable XLSX workbook" in result.output


def test_xlsx_with_english_headers_numbers_and_dates(app, chain, tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["Code", "Name", "Phone", "Birthday", "Hobbies", "Mystery"])
    sheet.append([1001, "Lily", 13912345678, datetime(1991, 4, 5), "yoga; tea", "x"])
    sheet.append(["1002", "Max", "not a phone", None, None, None])
    path = tmp_path / "people.xlsx"
    book.save(path)
    result = run(app, "customers", path, "--store", "BJ001")
    assert "2 rows, 2 customers: 1 created" in result.output and "1 rejected" in result.output
    assert "line 3: phone: not a valid phone number: not a phone" in result.output
    assert "columns not imported: Mystery" in result.output
    with app.app_context():
        lily = db.session.scalars(select(Customer).where(Customer.name == "Lily")).one()
        assert (lily.code, lily.phone, lily.birthday, lily.hobbies) == ("1001", "+8613912345678", "1991-04-05", ["yoga", "tea"])
        assert lily.home_store.code == "BJ001"


def test_gb18030_csv_from_chinese_excel(app, chain, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("姓名,手机号\n黄蓉,13600000001\n".encode("gb18030"))
    result = run(app, "customers", path)
    assert "1 created" in result.output
    assert "黄蓉" in profiles(app)
