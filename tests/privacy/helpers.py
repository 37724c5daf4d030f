"""Shared by the privacy and security tests: a customer with data in every core table, and a
scan of every table and text column of the real database for values that must not be there."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import Api, enable

PERSON = {
    "name": "王小明",
    "renamed": "王晓明",
    "phone_formats": ["13912345678", "139 1234 5678", "139-1234-5678", "+8613912345678"],
    "email": "xiaoming.wang@example.com",
    "address": "上海市静安区南京西路1266号",
    "wechat_id": "wxm_1985_secret",
    "preference": "燕麦奶少冰不要糖",
    "code": "VIP-0099",
    "note": "王晓明的生日蛋糕",
}


def make_person(app, chain, *, store="SH001", till=None, manager_token=None, plugins=()) -> dict:
    """Create PERSON through the API with a rename, consents, a sale, a visit, an activity and a
    privacy request. Returns {"id", "sale_id", "visit_id"}."""
    from core.extensions import db
    from core.models import Customer
    from core.services.customers import add_activity

    if plugins:
        enable(app, store, *plugins)
    api = Api(app.test_client())
    till = till or chain.till
    manager_token = manager_token or chain.manager_token
    r = api.post("/customers", {
        "name": PERSON["name"], "phone": PERSON["phone_formats"][1], "email": PERSON["email"], "store": store,
        "address": PERSON["address"], "wechat_id": PERSON["wechat_id"], "code": PERSON["code"],
        "birthday": "1985-03-12", "notes": "likes the window seat", "tags": ["regular"],
        "preferences": {"coffee": PERSON["preference"]},
        "consents": [{"channel": "sms", "granted": True, "source": "paper form"}],
    }, token=manager_token)
    assert r.status_code == 201, r.json
    customer_id = r.json["id"]
    r = api.patch(f"/customers/{customer_id}", {"name": PERSON["renamed"]}, token=manager_token)
    assert r.status_code == 200, r.json
    r = api.post(f"/customers/{customer_id}/consents", {"channel": "sms", "granted": False, "source": "till"},
                 token=till)
    assert r.status_code == 201, r.json
    r = api.post("/sales", {"external_id": f"priv-{customer_id}", "customer": {"phone": PERSON["phone_formats"][2]},
                            "note": PERSON["note"],
                            "lines": [{"sku": "LATTE-M", "quantity": 1, "unit_price": "28.00"}],
                            "payments": [{"method": "cash", "amount": "28.00"}]}, token=till)
    assert r.status_code == 201, r.json
    assert r.json["customer_id"] == customer_id
    sale_id = r.json["id"]
    r = api.post("/visits", {"customer": {"id": customer_id}, "purpose": "fitting",
                             "notes": f"{PERSON['renamed']} asked about beans"}, token=till)
    assert r.status_code == 201, r.json
    visit_id = r.json["id"]
    r = api.post("/privacy/requests", {"kind": "export", "customer_id": customer_id, "channel": "counter",
                                       "note": f"{PERSON['renamed']} at the counter"}, token=manager_token)
    assert r.status_code == 201, r.json
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        add_activity(db.session, customer, "call", f"called {PERSON['renamed']}", body=PERSON["email"])
        db.session.commit()
    if "feedback" in plugins:
        # a complaint and a comment about the person, in their words: the erasure scan must not find them after
        r = api.post("/feedback/complaints", {"customer_id": customer_id, "category": "product_quality",
                                              "description": f"{PERSON['renamed']}: {PERSON['preference']}",
                                              "sale_id": sale_id}, token=till)
        assert r.status_code == 201, r.json
        r = api.post(f"/feedback/complaints/{r.json['id']}/transitions",
                     {"to": "resolved", "note": f"called {PERSON['phone_formats'][0]}",
                      "resolution": {"apology": True, "replacement": PERSON["preference"]}}, token=manager_token)
        assert r.status_code == 200, r.json
        r = api.post("/feedback/feedback", {"customer_id": customer_id, "rating": 4, "category": "other",
                                            "text": f"{PERSON['renamed']} {PERSON['email']}"}, token=till)
        assert r.status_code == 201, r.json
    return {"id": customer_id, "sale_id": sale_id, "visit_id": visit_id, "request_id": r.json["id"]}


def all_cells(app):
    """(table, column, text) for every non-null cell of every table, read raw from the database:
    encrypted columns come back as stored (ciphertext), JSON as its text."""
    from core.extensions import db

    cells = []
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            inspector = sa.inspect(conn)  # one connection: SQLite transactions here take the write lock
            for table in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(table)]
                quoted = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
                for row in conn.exec_driver_sql(f'SELECT {quoted} FROM "{table}"'):
                    for column, value in zip(columns, row):
                        if value is not None:
                            cells.append((table, column, value))
    return cells


def find_in_database(app, needles) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle appears, JSON escapes (\\uXXXX) included."""
    import json

    variants = {}
    for needle in needles:
        variants[needle] = {needle, json.dumps(needle)[1:-1], needle.lower()}
    hits = []
    for table, column, text in all_cells(app):
        lowered = text.lower()
        for needle, forms in variants.items():
            if any(form.lower() in lowered for form in forms):
                hits.append((table, column, needle))
    return hits


def personal_needles() -> list[str]:
    return [PERSON["name"], PERSON["renamed"], *PERSON["phone_formats"], PERSON["email"], PERSON["address"],
            PERSON["wechat_id"], PERSON["preference"], PERSON["code"], PERSON["note"]]


def find_in_files(folder, needles) -> list[tuple[str, str]]:
    """Every (file, needle) where a needle appears in clear in a file under `folder`."""
    from pathlib import Path

    hits = []
    for path in Path(folder).rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", errors="ignore").lower()
            hits += [(str(path), needle) for needle in needles if needle.lower() in content]
    return hits
