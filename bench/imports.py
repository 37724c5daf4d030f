"""Customer import: 100k rows from CSV and from XLSX, at two file sizes so the peak memory
shows whether it stays flat as the file grows. Each import runs in its own process.

The floor streams the file (csv / openpyxl read-only), normalises and encrypts the phone and
writes the same customer rows with Core executemany in chunks. The app's importer
(core/imports.runner.run_import) is timed against it on the same files."""

from __future__ import annotations

import csv
import os

from sqlalchemy import insert

from bench import data
from bench.measure import Result, in_child, rate_ratio, timer

APP_PATH = "core.imports.runner.run_import"

# Rows (small file, large file): the app's peak at both sizes shows whether memory stays flat;
# the floor is the large file's rate. The smoke (the suite's check that it runs) imports one size.
SIZES = {"smoke": {"floor": (250,), "app": (250,)},
         "full": {"floor": (100_000,), "app": (10_000, 100_000)}}
HEADER = ["会员卡号", "姓名", "性别", "手机号", "生日", "邮箱", "职业", "爱好", "偏好", "标签", "备注"]


def row(i: int) -> list[str]:
    p = data.phone_of(i)[3:]
    return [f"VIP{i:07d}", f"顾客{i}", "女" if i % 2 else "男", f"{p[:3]} {p[3:7]} {p[7:]}",
            f"{1960 + i % 45}-{1 + i % 12:02d}-{1 + i % 28:02d}", f"c{i}@example.cn" if i % 3 == 0 else "",
            "教师", "阅读;烘焙", "咖啡:热 不加糖", "常客", "喜欢靠窗的位置"]


def write_files(workdir: str, rows: int) -> dict:
    paths = {"csv": os.path.join(workdir, f"customers-{rows}.csv"), "xlsx": os.path.join(workdir, f"customers-{rows}.xlsx")}
    with open(paths["csv"], "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(row(i))
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("customers")
    ws.append(HEADER)
    for i in range(rows):
        ws.append(row(i))
    wb.save(paths["xlsx"])
    return paths


def _rows(path: str):
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            next(reader)
            yield from reader
    else:
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        rows = wb.worksheets[0].iter_rows(values_only=True)
        next(rows)
        for r in rows:
            yield ["" if v is None else str(v) for v in r]
        wb.close()


def floor_import(session, store_id: int, path: str) -> int:
    """Stream, normalise, encrypt, insert in chunks of 2,000: the least an importer must do."""
    from core.crypto import cipher
    from core.models import Customer, utcnow
    from core.services.customers import parse_birthday
    from core.services.phones import normalise_phone

    c, now, chunk, count = cipher(), utcnow(), [], 0
    conn = session.connection()
    for r in _rows(path):
        phone = normalise_phone(r[3])
        year, month, day = parse_birthday(r[4])
        email = r[5].strip().lower() or None
        chunk.append({"code": r[0], "name": r[1], "gender": r[2], "phone": phone, "phone_hash": c.lookup_hash(phone),
                      "email": email, "email_hash": c.lookup_hash(email) if email else None, "birth_year": year,
                      "birth_month": month, "birth_day": day, "occupation": r[6] or None,
                      "hobbies": [h for h in r[7].split(";") if h], "preferences": dict(
                          p.split(":", 1) for p in r[8].split(";") if ":" in p), "notes": r[10] or None,
                      "source_channel": "import", "home_store_id": store_id, "created_at": now, "updated_at": now})
        if len(chunk) >= 2_000:
            conn.execute(insert(Customer), chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        conn.execute(insert(Customer), chunk)
        count += len(chunk)
    session.commit()
    return count


def one_import(config: dict, path: str, method: str) -> dict:
    """In a child process: a fresh app on a fresh database, one import, timed."""
    from core.app import create_app
    from core.extensions import db
    from core.models import Store

    from core.imports.runner import run_import

    app = create_app(config)
    with app.app_context():
        store = Store(code="IMPORT", name="Import", timezone="Asia/Shanghai")
        db.session.add(store)
        db.session.commit()
        with timer() as t:
            if method == "floor":
                count = floor_import(db.session, store.id, path)
            else:
                report = run_import(db.session, "customers", path, store=store)
                count = report.created
                assert report.rejected == 0, report.errors[:3]
                db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"seconds": t["seconds"], "rows": count}


def run(backend, size: str = "full") -> list[Result]:
    methods = ["floor", "app"]
    results = []
    files = {n: write_files(backend.workdir, n) for m in methods for n in SIZES[size][m]}
    for fmt in ("csv", "xlsx"):
        measured = {}
        for method in methods:
            for n in SIZES[size][method]:
                config = backend.config(backend.fresh_database(f"import_{fmt}"))
                out, peak = in_child("bench.imports.one_import", config, files[n][fmt], method)
                measured[(method, n)] = (out["seconds"], peak)
        floor_large = SIZES[size]["floor"][-1]
        floor_s, floor_peak = measured[("floor", floor_large)]
        for method in methods:
            small, large = SIZES[size][method][0], SIZES[size][method][-1]
            seconds, peak = measured[(method, large)]
            small_s, small_peak = measured[(method, small)]
            variant = ("floor: stream + normalise + encrypt + Core executemany" if method == "floor"
                       else f"{APP_PATH}()")
            results.append(Result(f"import {fmt.upper()}", backend.name, variant, round(large / seconds), "rows/s",
                                  None if method == "floor" else "floor", round(floor_large / floor_s),
                                  rate_ratio(large / seconds, floor_large / floor_s), peak,
                                  {"rows": large, "seconds": round(seconds, 2), f"peak_mb_at_{small}_rows": small_peak,
                                   "peak_growth_mb": round(peak - small_peak, 1)}))
    return results
