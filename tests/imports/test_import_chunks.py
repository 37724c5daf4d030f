"""The customer importer writes a chunk at a time: same rules as row by row, few statements."""

from __future__ import annotations

import collections

from sqlalchemy import select

from bench.measure import count_statements
from core.extensions import db
from core.models import Customer, utcnow
from tests.imports.test_customers_import import profiles, run


def test_duplicates_inside_a_chunk_and_across_chunks_are_one_profile(app, chain, tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text(
        "会员卡号,姓名,手机号,标签,爱好\n"
        "C1,张三,13700000001,常客,跑步\n"
        ",张三,137 0000 0001,会员,\n"          # same phone, same chunk: updates line 2's new profile
        "C2,李四,13700000002,,\n"
        "C3,王五,13700000001,,\n"              # C1's phone under another card: rejected
        "C1,,,,阅读\n"                         # next chunks (batch of 2): card C1 again
        "C4,赵六,,,\n",
        encoding="utf-8")
    result = run(app, "customers", path, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "6 rows, 6 customers: 3 created, 2 updated, 0 skipped (imported before), 1 rejected" in result.output
    assert "line 5: phone: already belongs to customer C1 张三" in result.output
    people = profiles(app)
    assert set(people) == {"张三", "李四", "赵六"}
    with app.app_context():
        zs = db.session.scalars(select(Customer).where(Customer.code == "C1")).one()
        # Empty cells erased nothing; lists merged across the three rows.
        assert (zs.name, zs.phone, zs.tags, zs.hobbies) == ("张三", "+8613700000001", ["会员", "常客"], ["跑步", "阅读"])


def test_a_card_number_only_the_database_knows_is_rejected_and_the_rest_of_the_chunk_kept(app, chain, tmp_path):
    with app.app_context():
        gone = Customer(name="已注销", code="OLD1", hobbies=[], preferences={}, erased_at=utcnow())
        db.session.add(gone)
        db.session.commit()
    path = tmp_path / "old.csv"
    path.write_text("会员卡号,姓名\nN1,甲\nOLD1,乙\nN2,丙\n", encoding="utf-8")
    result = run(app, "customers", path)
    assert "3 rows, 3 customers: 2 created, 0 updated, 0 skipped (imported before), 1 rejected" in result.output
    assert "line 3: code: Already in use." in result.output
    assert {"甲", "丙"} <= set(profiles(app)) and "乙" not in profiles(app)


def test_all_or_nothing_spans_chunks(app, chain, tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("name,phone\nA,13700000011\nB,13700000012\nC,13700000013\nD,nope\n", encoding="utf-8")
    result = run(app, "customers", path, "--all-or-nothing", "--batch-size", "2")
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert profiles(app) == {}


def test_a_chunk_costs_a_few_statements_not_a_few_per_row(app, chain, tmp_path):
    lines = ["会员卡号,姓名,手机号,标签,生日"]
    lines += [f"K{i},顾客{i},1370001{i:04d},常客,1990-01-{1 + i % 28:02d}" for i in range(300)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with app.app_context():
        engine = db.engine
    with count_statements(engine) as first:
        result = run(app, "customers", path, "--store", "SH001", "--batch-size", "100")
    assert "300 created" in result.output
    # Per chunk of 100: prefetch by code and by phone, insert customers and tags, savepoint,
    # commit. Row by row this was over 2,000. SQLite inserts the customers one statement each
    # (SQLAlchemy has no ordered RETURNING for a batch there; in-process, that is cheap);
    # PostgreSQL sends them as one batch.
    statements = first["sql"]
    if engine.dialect.name == "sqlite":
        statements = [s for s in statements if not s.startswith("INSERT INTO customer (")]
    assert len(statements) < 60, collections.Counter(s.split("\n")[0][:90] for s in statements).most_common(8)
    with count_statements(engine) as second:
        again = run(app, "customers", path, "--store", "SH001", "--batch-size", "100")
    assert "0 created, 300 updated" in again.output
    assert second["count"] < 60, collections.Counter(second["statements"]).most_common(8)
    assert len(profiles(app)) == 300
