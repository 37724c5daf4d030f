"""Full classification recompute (100k customers, 1M sales) against pandas doing the same
aggregation in memory from the same rows.

The app's recompute (core/classification) is called when it exists; otherwise the benchmark
times the set-based SQL the recompute is expected to run (amount class by rank within the
store, frequency class by count, over the 365-day window, refunds excluded) so the harness
and its floor are ready. The pandas floor computes the same classes and the two results are
compared, so a fast but wrong recompute cannot pass."""

from __future__ import annotations

import importlib
import inspect
from datetime import timedelta

from sqlalchemy import text

from bench import data
from bench.measure import Result, self_peak_mb, time_ratio, timer

SIZES = {"smoke": dict(customers=300, sales=3_000, stores=3), "full": dict(customers=100_000, sales=1_000_000, stores=5)}
WINDOW_DAYS = 365

# Where the classification engineer's full recompute may live, best guess first.
CANDIDATES = [("core.classification.compute", "recompute_all"), ("core.classification.engine", "recompute_all"), ("core.classification.recompute", "recompute_all"),
              ("core.classification", "recompute_all"), ("core.classification.engine", "recompute"),
              ("core.classification.service", "recompute_all"), ("core.classification.jobs", "nightly_recompute")]

EXPECTED_SQL = """
WITH spend AS (
    SELECT store_id, customer_id, SUM(total - refunded_total) AS m, COUNT(*) AS f
    FROM sale
    WHERE customer_id IS NOT NULL AND status <> 'refunded' AND occurred_at >= :since
    GROUP BY store_id, customer_id
), ranked AS (
    SELECT store_id, customer_id, m, f,
           RANK() OVER (PARTITION BY store_id ORDER BY m DESC) AS r,
           COUNT(*) OVER (PARTITION BY store_id) AS n
    FROM spend
)
SELECT store_id, customer_id, m, f,
       CASE WHEN (r - 1) * 5 < n THEN 'high' WHEN (r - 1) * 2 < n THEN 'medium' ELSE 'low' END AS amount_class,
       CASE WHEN f >= 12 THEN 'frequent' WHEN f >= 3 THEN 'occasional' ELSE 'rare' END AS frequency_class
FROM ranked
"""


def find_recompute():
    for module, name in CANDIDATES:
        try:
            func = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        return f"{module}.{name}", func
    return None, None


def prepare(backend, size: str) -> str:
    from core.app import create_app
    from core.extensions import db

    cfg = SIZES[size]
    url = backend.fresh_database("classify")
    app = create_app(backend.config(url))
    with app.app_context():
        seeded = data.seed_chain(db.session, store_codes=tuple(f"S{i:02d}" for i in range(cfg["stores"])),
                                 enable_all_in=())
        db.session.remove()
        with db.engine.begin() as conn:
            data.bulk_customers(conn, cfg["customers"], None)
        with db.engine.begin() as conn:
            first, last = conn.execute(text("SELECT min(id), max(id) FROM customer")).one()
            data.bulk_sales(conn, cfg["sales"], list(seeded["stores"].values()), (first, last))
        with db.engine.begin() as conn:
            data.analyze(conn)
        db.engine.dispose()
    return url


def sql_classes(session) -> dict:
    """The expected set-based recompute: one statement, into a table; class counts back."""
    since = (data.NOW - timedelta(days=WINDOW_DAYS)).replace(tzinfo=None)
    if session.get_bind().dialect.name == "sqlite":
        since = data.sqlite_time(since)
    session.execute(text("DROP TABLE IF EXISTS bench_customer_class"))
    session.execute(text("CREATE TABLE bench_customer_class AS " + EXPECTED_SQL), {"since": since})
    rows = session.execute(text("SELECT amount_class, frequency_class, count(*) FROM bench_customer_class "
                                "GROUP BY amount_class, frequency_class")).all()
    session.commit()
    return {(a, f): n for a, f, n in rows}


def app_classes(session) -> dict | None:
    """The app's amount × frequency counts over the store scopes, to compare with pandas."""
    try:
        rows = session.execute(text("SELECT amount_class, frequency_class, count(*) FROM customer_class "
                                    "WHERE scope_id <> 0 AND purchases > 0 GROUP BY amount_class, frequency_class")).all()
    except Exception:  # noqa: BLE001 - another table layout: no comparison
        session.rollback()
        return None
    return {(a, f): n for a, f, n in rows}


def pandas_classes(frame) -> dict:
    import numpy as np

    since = (data.NOW - timedelta(days=WINDOW_DAYS)).replace(tzinfo=None)
    sales = frame[(frame["status"] != "refunded") & (frame["occurred_at"] >= since) & frame["customer_id"].notna()]
    # In cents, as integers: float sums would break ties the database sees as equal.
    net = ((sales["total"] - sales["refunded_total"]) * 100).round().astype("int64")
    spend = (sales.assign(net=net)
             .groupby(["store_id", "customer_id"], sort=False).agg(m=("net", "sum"), f=("net", "size")).reset_index())
    rank = spend.groupby("store_id")["m"].rank(method="min", ascending=False)  # ties go to the higher class
    n = spend.groupby("store_id")["m"].transform("size")
    spend["amount_class"] = np.select([(rank - 1) * 5 < n, (rank - 1) * 2 < n], ["high", "medium"], "low")
    spend["frequency_class"] = np.select([spend["f"] >= 12, spend["f"] >= 3], ["frequent", "occasional"], "rare")
    counts = spend.groupby(["amount_class", "frequency_class"]).size()
    return {k: int(v) for k, v in counts.items()}


def run(backend, size: str = "full") -> list[Result]:
    import pandas as pd

    from core.app import create_app
    from core.extensions import db

    url = prepare(backend, size)
    app = create_app(backend.config(url))
    results = []
    with app.app_context():
        path, func = find_recompute()
        with timer() as t_sql:
            expected = sql_classes(db.session)
        variant, seconds = "expected recompute SQL (one statement)", t_sql["seconds"]
        note = "core/classification has no recompute function yet"
        agrees = None
        if func is not None:
            params = inspect.signature(func).parameters
            with timer() as t_app:
                if "now" in params:  # the same clock as the floor: the window edge must not move
                    func(db.session, now=data.NOW)
                else:
                    func(db.session) if params else func()
                db.session.commit()
            variant, seconds, note = f"{path}()", t_app["seconds"], "the app's own recompute (stores and chain)"
            agrees = app_classes(db.session) == expected
        peak_app = self_peak_mb()
        with timer() as t_load:
            db.session.rollback()  # SQLite: the session must not hold the lock while pandas reads
            with db.engine.connect() as conn:
                frame = pd.read_sql_query(
                    text("SELECT store_id, customer_id, total, refunded_total, status, occurred_at FROM sale"),
                    conn, dtype={"total": "float64", "refunded_total": "float64"})
            frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
        with timer() as t_pandas:
            got = pandas_classes(frame)
        if got != expected:
            raise AssertionError(f"the SQL and pandas classes differ: {expected} != {got}")
        cfg = SIZES[size]
        results.append(Result("classification", backend.name, variant, round(seconds, 2), "s",
                              "pandas groupby/rank in memory", round(t_pandas["seconds"], 2),
                              time_ratio(seconds, t_pandas["seconds"]), round(peak_app, 1),
                              {"customers": cfg["customers"], "sales": cfg["sales"], "note": note,
                               "pandas_load_s": round(t_load["seconds"], 2),
                               "ratio_incl_load": time_ratio(seconds, t_pandas["seconds"] + t_load["seconds"]),
                               "peak_with_pandas_mb": round(self_peak_mb(), 1),
                               "app_classes_equal_pandas": agrees}))
        db.session.remove()
        db.engine.dispose()
    return results
