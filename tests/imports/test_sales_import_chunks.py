"""The sales importer writes a chunk at a time through the batch service: the same rejects,
line by line, across chunk boundaries, all-or-nothing over every chunk, and statements per
sale that do not include per-sale lookups."""

from __future__ import annotations

import csv

from sqlalchemy import func, select

from bench.measure import count_statements
from core.extensions import db
from core.models import Sale
from tests.imports.test_sales_import import _customers, run

HEADER = "门店,单号,消费时间,会员卡号,手机号,商品编号,数量,金额\n"


def sales(app) -> dict[str, tuple]:
    """external_id -> (customer id, total) of every sale."""
    with app.app_context():
        return {s.external_id: (s.customer_id, s.total) for s in db.session.scalars(select(Sale))}


def test_rejects_across_chunks_keep_the_rest_and_are_reported_by_line(app, chain, api, tmp_path):
    a, b = _customers(api, chain)
    path = tmp_path / "sales.csv"
    path.write_text(HEADER +
                    "SH001,C1,2026-03-01 10:00,VIP1,,LATTE-M,1,\n"        # line 2
                    "SH001,C1,2026-03-01 10:00,VIP1,,CAKE-CHOC,1,\n"      # line 3: same receipt
                    "SH001,C2,2026-03-01 11:00,,13900000002,NOPE,1,\n"    # line 4: unknown product
                    "SH001,C3,2026-03-01 12:00,,13900000009,,,20\n"       # line 5: nobody has that phone
                    "SH001,C4,2026-03-01 13:00,,13900000002,,,15\n"       # line 6: next chunk
                    "SH001,C1,2026-03-01 10:00,VIP1,,,,99\n"              # line 7: C1 again (not next to it)
                    "SH001,C5,2026-03-02 09:00,,139,,,5\n",               # line 8: not a phone
                    encoding="utf-8")
    report = tmp_path / "sales.rejected.csv"
    result = run(app, "sales", path, "--batch-size", "2", "--report", report)
    assert "7 rows, 6 sales: 2 created, 0 updated, 0 skipped (imported before), 4 rejected" in result.output, result.output
    # C1 again with another amount: a conflict, reported with both lines, never silently skipped.
    assert "line 7: external_id: receipt C1 is on line 2 too, with another date, amount or lines" in result.output
    assert "line 4: lines.0.sku: Unknown product NOPE." in result.output
    assert "line 5: phone: no customer with phone 13900000009 (import the customers first)" in result.output
    assert "line 8: phone: not a valid phone number: 139" in result.output
    with open(report, encoding="utf-8-sig") as fh:
        rejected = list(csv.reader(fh))
    assert rejected[0][-1] == "错误原因 reason"
    assert [(r[1], r[-1].split(":")[0]) for r in rejected[1:]] == [
        ("C2", "第4行 line 4"), ("C3", "第5行 line 5"), ("C1", "第7行 line 7"), ("C5", "第8行 line 8")]
    kept = sales(app)
    assert set(kept) == {"C1", "C4"}
    assert kept["C1"][0] == a and str(kept["C1"][1]) == "63.00"  # the first C1 stands: 28.00 + 35.00
    assert kept["C4"][0] == b


def test_all_or_nothing_spans_sale_chunks(app, chain, api, tmp_path):
    _customers(api, chain)
    path = tmp_path / "late.csv"
    path.write_text(HEADER + "".join(f"SH001,L{i},2026-03-01 10:00,VIP1,,,,{i + 1}\n" for i in range(5))
                    + "SH001,L9,2026-03-01 10:00,NOBODY,,,,1\n", encoding="utf-8")
    result = run(app, "sales", path, "--all-or-nothing", "--batch-size", "2")
    assert result.exit_code == 1 and "nothing was imported" in result.output
    assert sales(app) == {}
    result = run(app, "sales", path, "--batch-size", "2")
    assert "5 created" in result.output and "1 rejected" in result.output
    assert len(sales(app)) == 5


def test_a_chunk_of_sales_costs_no_lookup_per_sale(app, chain, api, tmp_path):
    _customers(api, chain)
    path = tmp_path / "many.csv"
    rows = [f"SH001,M{i},2026-03-{1 + i % 28:02d} 10:00,{'VIP1' if i % 2 else ''},{'' if i % 2 else '13900000002'},"
            f"{'LATTE-M' if i % 3 else 'CAKE-CHOC'},1,\n" for i in range(200)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    with app.app_context():
        engine = db.engine
    with count_statements(engine) as box:
        result = run(app, "sales", path, "--batch-size", "100")
    assert "200 created" in result.output, result.output
    statements = box["sql"]
    lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")
               and ("FROM product" in s or "FROM customer" in s or "FROM sale " in s or "FROM sale\n" in s)]
    # Products, customers by card and by phone, receipts imported before: one query each per
    # chunk of 100 (then the classes are recomputed once, set-based), not one per sale.
    assert len(lookups) <= 2 * 4 + 2, "\n".join(lookups)
    # Per sale: a savepoint and its release, the sale and its line; nothing else grows with the file.
    assert len(statements) <= 200 * 4 + 60, len(statements)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 200
