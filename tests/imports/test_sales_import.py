"""Importing sales history: receipts with lines, totals only, customers by card or phone,
quiet by default (no plugin events), classes recomputed once, repeatable."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.classification.models import CustomerClass
from core.cli import cli
from core.extensions import db
from core.models import Event, Sale
from tests.conftest import enable

SALES = """门店,单号,消费时间,会员卡号,手机号,商品编号,数量,单价,金额
SH001,R1,2026-03-01 10:15,VIP1,,LATTE-M,2,,
SH001,R1,2026-03-01 10:15,VIP1,,CAKE-CHOC,1,30.00,
SH001,R2,2026-03-02 18:00,,13900000002,,,,"1,200.50"
BJ001,R3,2026/03/03 09:00,,,,,,45
SH001,R4,2026-03-04 11:00,NOBODY,,,,,10
XX999,R5,2026-03-05 11:00,VIP1,,,,,10
SH001,R6,2026-02-30 11:00,VIP1,,,,,10
SH001,R7,2026-03-06 11:00,VIP1,,,,,-5
"""


def _customers(api, chain):
    a = api.post("/customers", {"name": "卡客", "code": "VIP1", "phone": "13900000001"}, token=chain.till).json["id"]
    b = api.post("/customers", {"name": "电话客", "phone": "13900000002"}, token=chain.till).json["id"]
    return a, b


def run(app, *args):
    return app.test_cli_runner().invoke(cli, ["import", *map(str, args)], catch_exceptions=False)


def test_sales_history_with_lines_totals_and_rejected_rows(app, chain, api, tmp_path):
    enable(app, "SH001", *[])
    a, b = _customers(api, chain)
    with app.app_context():
        events_before = db.session.scalar(select(func.count()).select_from(Event))
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    result = run(app, "sales", path)
    assert "8 rows, 7 sales: 3 created, 0 updated, 0 skipped (imported before), 4 rejected" in result.output, result.output
    assert "line 6: customer_code: no customer with card number NOBODY" in result.output
    assert "line 7: store: unknown store XX999" in result.output
    assert "line 8: occurred_at: not a date and time: 2026-02-30 11:00" in result.output
    assert "line 9: total: not an amount: -5" in result.output
    with app.app_context():
        sales = {s.external_id: s for s in db.session.scalars(select(Sale))}
        assert set(sales) == {"R1", "R2", "R3"}
        r1 = sales["R1"]
        assert r1.customer_id == a and [(l.sku, l.quantity) for l in r1.lines] == [("LATTE-M", 2), ("CAKE-CHOC", 1)]
        assert r1.total == Decimal("86.00")  # 2 x 28.00 list price + 30.00
        assert r1.store.local(r1.occurred_at).strftime("%Y-%m-%d %H:%M") == "2026-03-01 10:15"  # store time
        assert sales["R2"].customer_id == b and sales["R2"].total == Decimal("1200.50") and not sales["R2"].lines
        assert sales["R3"].customer_id is None and sales["R3"].store.code == "BJ001"
        # Quiet: no sale_recorded per row; the classes were recomputed once at the end.
        assert db.session.scalar(select(func.count()).select_from(Event)) == events_before
        assert db.session.get(CustomerClass, (a, 0)) is not None
    again = run(app, "sales", path)
    assert "0 created, 0 updated, 3 skipped (imported before), 4 rejected" in again.output


def test_with_events_delivers_sale_recorded_per_sale(app, chain, api, tmp_path):
    _customers(api, chain)
    path = tmp_path / "sales.csv"
    path.write_text("store,receipt,date,phone,amount\nSH001,T1,2026-05-01 12:00,13900000001,50\n", encoding="utf-8")
    result = run(app, "sales", path, "--with-events")
    assert "1 created" in result.output, result.output
    with app.app_context():
        assert db.session.scalars(select(Event.name).where(Event.name == "sale_recorded")).all() == ["sale_recorded"]


def test_a_sale_file_without_a_date_column_is_refused(app, chain, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("store,amount\nSH001,5\n", encoding="utf-8")
    result = run(app, "sales", path)
    assert result.exit_code != 0 and "lacks columns: occurred_at" in result.output


def test_sales_all_or_nothing(app, chain, api, tmp_path):
    _customers(api, chain)
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    result = run(app, "sales", path, "--all-or-nothing")
    assert result.exit_code == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
