"""Counter lookup: a customer by phone among 1M customers, through the service the counter
uses and through the API, against the bare indexed SELECT on the keyed phone hash."""

from __future__ import annotations

import random
import time


from bench import data
from bench.measure import Result, percentile, self_peak_mb, time_ratio

SIZES = {"smoke": dict(customers=2_000, lookups=50), "full": dict(customers=1_000_000, lookups=1_000)}


def prepare(backend, size: str) -> tuple[str, str]:
    from core.app import create_app
    from core.extensions import db
    from core.models import ApiToken, Store

    url = backend.fresh_database("lookup")
    app = create_app(backend.config(url))
    with app.app_context():
        store = Store(code="COUNTER", name="Counter", timezone="Asia/Shanghai")
        row, raw = ApiToken.issue("till-counter", store=store)
        db.session.add_all([store, row])
        db.session.commit()
        store_id = store.id
        db.session.remove()
        with db.engine.begin() as conn:
            data.bulk_customers(conn, SIZES[size]["customers"], store_id)
        with db.engine.begin() as conn:
            data.analyze(conn)
        db.engine.dispose()
    return url, raw


def _time_each(func, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        func(item)
        out.append(time.perf_counter() - start)
    return out


def run(backend, size: str = "full") -> list[Result]:
    from core.app import create_app
    from core.crypto import cipher
    from core.extensions import db
    from core.services.customers import find_by_phone

    cfg = SIZES[size]
    url, token = prepare(backend, size)
    app = create_app(backend.config(url))
    rnd = random.Random(3)
    wanted = [rnd.randrange(cfg["customers"]) for _ in range(cfg["lookups"])]
    # As typed at the counter: national format with spaces.
    typed = [f"{data.phone_of(i)[3:6]} {data.phone_of(i)[6:10]} {data.phone_of(i)[10:]}" for i in wanted]
    results = []
    with app.app_context():
        hashes = [cipher().lookup_hash(data.phone_of(i)) for i in wanted]
        raw = db.engine.raw_connection()
        cur = raw.cursor()
        mark = "%s" if db.engine.dialect.name == "postgresql" else "?"

        def bare(h):
            cur.execute(f"SELECT id, name, phone FROM customer WHERE phone_hash = {mark}", (h,))
            assert cur.fetchone() is not None

        def service(phone):
            found = find_by_phone(db.session, phone)
            assert found is not None and found.phone  # decrypted, as the counter shows it
            db.session.rollback()

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def api(phone):
            resp = client.get("/api/v1/customers", query_string={"phone": phone}, headers=headers)
            assert resp.status_code == 200 and len(resp.get_json()["items"]) == 1, resp.get_data()[:200]

        for func, items in ((bare, hashes), (service, typed), (api, typed)):  # warm caches and pools
            _time_each(func, items[:20])
        floor = _time_each(bare, hashes)
        timings = {"service find_by_phone()": _time_each(service, typed),
                   "API GET /customers?phone=": _time_each(api, typed)}
        raw.close()
        floor_ms = percentile(floor, 50) * 1000
        for variant, values in timings.items():
            p50 = percentile(values, 50) * 1000
            results.append(Result("counter lookup", backend.name, variant, round(p50, 3), "ms (p50)",
                                  "bare indexed SELECT on phone_hash", round(floor_ms, 3), time_ratio(p50, floor_ms),
                                  round(self_peak_mb(), 1),
                                  {"p99_ms": round(percentile(values, 99) * 1000, 3), "customers": cfg["customers"],
                                   "lookups": cfg["lookups"], "floor_p99_ms": round(percentile(floor, 99) * 1000, 3)}))
        db.session.remove()
        db.engine.dispose()
    return results
