"""Bulk data for benchmarks, written fast: COPY on PostgreSQL, the driver's executemany on
SQLite, never the ORM one row at a time. Values are prepared in the stored form (ciphertext,
naive UTC), so the rows are exactly what the app itself would have written."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import text

CHUNK = 20_000
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def phone_of(i: int) -> str:
    """The i-th bench phone number, normalised as the app stores it (+86 mobile)."""
    return f"+86139{i:08d}"


def bulk_insert(conn, table: str, columns: list[str], rows) -> int:
    """Insert an iterable of tuples through one raw DBAPI connection, in chunks.

    A sale written without `updated_at` (the sync's column) takes its `created_at`, as the ORM
    would have set it."""
    if table == "sale" and "updated_at" not in columns and "created_at" in columns:
        at = columns.index("created_at")
        columns, rows = [*columns, "updated_at"], ((*row, row[at]) for row in rows)
    raw = conn.connection.driver_connection
    count = 0
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    rows = (tuple(_sqlite_value(v) for v in row) for row in rows)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    cur = raw.cursor()
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            cur.executemany(sql, chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        cur.executemany(sql, chunk)
        count += len(chunk)
    return count


def sqlite_time(dt: datetime) -> str:
    """How SQLAlchemy stores a DateTime in SQLite (the driver's own adapter differs)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_value(v):
    if isinstance(v, datetime):
        return sqlite_time(v)
    if isinstance(v, Decimal):
        return float(v)  # as SQLAlchemy binds Numeric on SQLite
    return v


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def seed_chain(session, store_codes=("BENCH_NONE", "BENCH_ALL", "BENCH_FLOOR"), products: int = 50,
               enable_all_in=("BENCH_ALL",)) -> dict:
    """Stores, a till token per store, products; every installed plugin on in `enable_all_in`.
    Returns {"tokens": {code: raw token}, "skus": [...], "stores": {code: id}, "plugins": [...]}."""
    from flask import current_app

    from core.models import ApiToken, Product, Store
    from core.services.store_plugins import enable_plugin

    stores = {}
    tokens = {}
    for code in store_codes:
        store = Store(code=code, name=f"Bench {code}", timezone="Asia/Shanghai")
        session.add(store)
        row, raw = ApiToken.issue(f"till-{code}", store=store)
        session.add(row)
        stores[code] = store
        tokens[code] = raw
    skus = []
    for i in range(products):
        sku = f"SKU-{i:04d}"
        price = Decimal(10 + (i * 7) % 190).quantize(Decimal("0.01"))
        session.add(Product(sku=sku, name=f"商品 {i}", category=("coffee", "cake", "beans", "gift")[i % 4],
                            brand="bench", price=price, cost=(price / 3).quantize(Decimal("0.01"))))
        skus.append(sku)
    session.flush()
    registry = current_app.extensions["storecrm.plugins"]
    plugins = registry.ordered(registry.manifests)
    for code in enable_all_in:
        for name in plugins:
            if not registry.is_enabled(stores[code], name):
                enable_plugin(session, stores[code], name, actor="bench")
        registry.forget_enabled()
    ids = {c: s.id for c, s in stores.items()}
    session.commit()
    return {"tokens": tokens, "skus": skus, "stores": ids, "plugins": plugins}


def bulk_customers(conn, count: int, home_store_id: int | None, start: int = 0) -> None:
    """`count` customers with encrypted phones and their lookup hashes (phone_of(i))."""
    from core.crypto import cipher

    c = cipher()
    now = _naive(NOW)

    def rows():
        for i in range(start, start + count):
            phone = phone_of(i)
            yield (f"Customer {i}", c.encrypt(phone), c.lookup_hash(phone), "[]", "{}", "import", home_store_id,
                   now, now)

    bulk_insert(conn, "customer", ["name", "phone", "phone_hash", "hobbies", "preferences", "source_channel",
                                   "home_store_id", "created_at", "updated_at"], rows())


def bulk_sales(conn, count: int, store_ids: list[int], customer_ids: tuple[int, int], seed: int = 7,
               days: int = 540) -> None:
    """`count` ticket-total sales spread over `days`, over the customer id range (inclusive),
    with a skewed spend so percentiles mean something; 3% are refunded in part or in full."""
    rnd = random.Random(seed)
    lo, hi = customer_ids
    now = _naive(NOW)

    def rows():
        for _ in range(count):
            # A few heavy buyers and a long tail, as in a real shop.
            customer = lo + int((hi - lo) * rnd.random() ** 2)
            total = Decimal(rnd.randint(800, 60000)) / 100
            refunded, status = Decimal("0.00"), "completed"
            roll = rnd.random()
            if roll < 0.01:
                refunded, status = total, "refunded"
            elif roll < 0.03:
                refunded, status = (total / 2).quantize(Decimal("0.01")), "partly_refunded"
            at = now - timedelta(seconds=rnd.randint(0, days * 86400))
            yield (rnd.choice(store_ids), customer, at, "store", status, total, Decimal("0.00"), total, refunded, at)

    bulk_insert(conn, "sale", ["store_id", "customer_id", "occurred_at", "channel", "status", "subtotal",
                               "adjustment_total", "total", "refunded_total", "created_at"], rows())


def customer_id_range(session) -> tuple[int, int]:
    row = session.execute(text("SELECT min(id), max(id) FROM customer")).one()
    return int(row[0]), int(row[1])


def analyze(conn) -> None:
    """Fresh planner statistics after a bulk load (as a DBA would run after an import)."""
    conn.exec_driver_sql("ANALYZE")


def sale_body(i: int, skus: list[str], customers: int, rnd: random.Random, prefix: str) -> dict:
    """One till's sale as JSON: 1–3 lines, a member phone from a pool of `customers`, paid."""
    lines = []
    for position in range(rnd.randint(1, 3)):
        lines.append({"sku": skus[rnd.randrange(len(skus))], "quantity": rnd.randint(1, 3)})
    body = {
        "external_id": f"{prefix}-{i}",
        "occurred_at": NOW.isoformat(),
        "lines": lines,
    }
    if customers:
        body["customer"] = {"phone": phone_of(rnd.randrange(customers))[3:]}
    return body

