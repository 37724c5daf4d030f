"""Sales statistics as the API answers them, in the store's time zone (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.extensions import db
from core.models import Product, Sale, SaleLine, Store, utcnow

SH = ZoneInfo("Asia/Shanghai")


def add_sale(code, local: datetime, total, status="completed", refunded="0", lines=()):
    store = db.session.scalars(select(Store).where(Store.code == code)).one()
    total = Decimal(str(total))
    sale = Sale(store=store, occurred_at=local.replace(tzinfo=SH), subtotal=total, total=total,
                adjustment_total=Decimal(0), refunded_total=Decimal(refunded), status=status, channel="store")
    for i, (sku, qty, refunded_qty) in enumerate(lines):
        product = db.session.scalars(select(Product).where(Product.sku == sku)).one()
        amount = product.price * qty
        sale.lines.append(SaleLine(position=i, product=product, sku=sku, name=product.name, quantity=Decimal(qty),
                                   unit_price=product.price, discount=Decimal(0), amount=amount,
                                   refunded_quantity=Decimal(refunded_qty)))
    db.session.add(sale)
    return sale


def _march(app):
    with app.app_context():
        add_sale("SH001", datetime(2026, 3, 1, 23, 30), 100)  # Sunday night: still 1 March locally
        add_sale("SH001", datetime(2026, 3, 2, 0, 30), 50)  # 16:30 UTC on 1 March, but 2 March in Shanghai
        add_sale("SH001", datetime(2026, 3, 2, 9, 0), 80, status="refunded", refunded="80")  # does not count
        add_sale("SH001", datetime(2026, 3, 2, 12, 0), 70, status="partly_refunded", refunded="20")
        add_sale("BJ001", datetime(2026, 3, 2, 12, 0), 40)
        add_sale("SH001", datetime(2026, 4, 6, 12, 0), 10)
        db.session.commit()


def test_daily_weekly_monthly_in_the_store_time_zone(app, chain, api):
    _march(app)
    res = api.get("/analytics/sales?store=SH001&from=2026-03-01&to=2026-03-03", token=chain.manager_token)
    assert res.status_code == 200, res.json
    rows = res.json["stores"][0]["rows"]
    assert [(r["start"], r["amount"], r["count"], r["average_ticket"]) for r in rows] == [
        ("2026-03-01", "100.00", 1, "100.00"),
        ("2026-03-02", "100.00", 2, "50.00"),  # 50 + (70 - 20 refunded); the wholly refunded sale is out
        ("2026-03-03", "0.00", 0, "0.00"),
    ]
    weekly = api.get("/analytics/sales?period=week&from=2026-02-23&to=2026-03-08", token=chain.owner_token).json
    assert [(r["start"], r["amount"], r["count"]) for r in weekly["all"]["rows"]] == [
        ("2026-02-23", "100.00", 1), ("2026-03-02", "140.00", 3)]  # weeks start on Monday; BJ001 included
    monthly = api.get("/analytics/sales?period=month&from=2026-03-01&to=2026-04-30&store=SH001",
                      token=chain.owner_token).json
    assert [(r["start"], r["amount"], r["count"], r["average_ticket"]) for r in monthly["all"]["rows"]] == [
        ("2026-03-01", "200.00", 3, "66.67"), ("2026-04-01", "10.00", 1, "10.00")]
    assert monthly["all"]["totals"] == {"amount": "210.00", "count": 4, "average_ticket": "52.50"}


def test_preferences_by_local_hour_weekday_and_season(app, chain, api):
    _march(app)
    with app.app_context():
        add_sale("SH001", datetime(2026, 3, 1, 0, 30), 30, lines=[("CAKE-CHOC", 1, 0)])  # spring, 00h local
        add_sale("SH001", datetime(2026, 2, 28, 23, 30), 28, lines=[("LATTE-M", 1, 0)])  # winter, 23h local
        db.session.commit()
    res = api.get("/analytics/preferences?store=SH001&from=2026-02-01&to=2026-04-30", token=chain.manager_token)
    assert res.status_code == 200, res.json
    hours = {h["key"]: (h["amount"], h["count"]) for h in res.json["hours"]}
    assert hours[23] == ("128.00", 2) and hours[0] == ("80.00", 2) and hours[12] == ("60.00", 2)
    weekdays = {d["key"]: d["count"] for d in res.json["weekdays"]}
    assert weekdays["sun"] == 2 and weekdays["sat"] == 1 and weekdays["mon"] == 3  # 2 March 2026 is a Monday
    seasons = {s["key"]: s for s in res.json["seasons"]}
    assert seasons["winter"]["amount"] == "28.00" and seasons["winter"]["top_categories"] == [
        {"category": "coffee", "amount": "28.00"}]
    assert seasons["spring"]["top_categories"][0]["category"] == "cake"


def test_best_and_slowest_sellers(app, chain, api):
    with app.app_context():
        add_sale("SH001", datetime(2026, 3, 2, 9, 0), 0, lines=[("LATTE-M", 3, 0), ("CAKE-CHOC", 2, 1)])
        add_sale("SH001", datetime(2026, 3, 3, 9, 0), 0, lines=[("LATTE-M", 1, 0)])
        db.session.commit()
    res = api.get("/analytics/products?store=SH001&from=2026-03-01&to=2026-03-31", token=chain.manager_token)
    assert res.status_code == 200, res.json
    assert [(p["sku"], p["quantity"], p["amount"], p["sales"]) for p in res.json["best"]] == [
        ("LATTE-M", 4.0, "112.00", 2), ("CAKE-CHOC", 1.0, "35.00", 1)]  # one cake was returned
    # A best seller is never slow (issue 13: the coat that sold most by revenue was listed as slow).
    assert [p["sku"] for p in res.json["slowest"]] == ["BEANS-1KG"]
    res = api.get("/analytics/products?store=SH001&from=2026-03-01&to=2026-03-31&limit=1", token=chain.manager_token)
    assert [p["sku"] for p in res.json["best"]] == ["LATTE-M"]
    # Slow by net revenue, least first: the unsold beans, then the cake (1 sold, ¥35).
    res = api.get("/analytics/products?store=SH001&from=2026-03-01&to=2026-03-31&limit=2", token=chain.manager_token)
    assert [p["sku"] for p in res.json["slowest"]] == ["BEANS-1KG"]


def test_forecast_names_its_method_and_backtest_error(app, chain, api):
    pattern = [100, 90, 95, 110, 150, 260, 240]  # Mon..Sun: weekends sell most
    today = utcnow().astimezone(SH).date()
    with app.app_context():
        for back in range(1, 16 * 7 + 1):
            day = today - timedelta(days=back)
            add_sale("SH001", datetime.combine(day, datetime.min.time()).replace(hour=12), pattern[day.weekday()])
        db.session.commit()
    res = api.get("/analytics/forecast?store=SH001&weeks=2", token=chain.manager_token)
    assert res.status_code == 200, res.json
    body = res.json
    assert body["method"].startswith("Holt-Winters") and "seasonal_periods=7" in body["method"]
    assert body["backtest"]["days"] == 28 and body["backtest"]["mape_weekly_percent"] < 5
    assert len(body["daily"]) == 14 and len(body["weekly"]) == 2
    by_weekday = {date.fromisoformat(d["date"]).weekday(): Decimal(d["amount"]) for d in body["daily"][:7]}
    assert by_weekday[5] > by_weekday[1] + 100  # the weekly rhythm is kept
    assert abs(sum(Decimal(w["amount"]) for w in body["weekly"][:1]) - sum(pattern)) < 60


def test_forecast_with_little_history_falls_back_and_says_so(app, chain, api):
    with app.app_context():
        add_sale("SH001", datetime.now(SH).replace(tzinfo=None) - timedelta(days=2), 50)
        db.session.commit()
    body = api.get("/analytics/forecast?store=SH001", token=chain.manager_token).json
    assert body["method"].startswith("seasonal naive") and body["backtest"] is None


def test_analytics_need_a_manager_of_that_store(app, chain, api):
    assert api.get("/analytics/sales", token=chain.staff_token).status_code == 403
    assert api.get("/analytics/sales", token=chain.till).status_code == 403
    assert api.get("/analytics/sales?store=BJ001", token=chain.manager_token).status_code == 403
    bad = api.get("/analytics/sales?from=2026-03-05&to=2026-03-01", token=chain.owner_token)
    assert bad.status_code == 400 and "from" in bad.json["error"]["fields"]
