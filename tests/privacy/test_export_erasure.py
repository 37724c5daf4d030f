"""Export and erasure of one person, across the core and every installed plugin."""

from __future__ import annotations

import sqlalchemy as sa

from core.plugins import Manifest, hookimpl
from tests.conftest import BUNDLED, Api, build_chain
from tests.privacy.helpers import PERSON, find_in_database, make_person, personal_needles


class Keeper:
    """A plugin that holds something about customers, installed but enabled in no store."""

    def __init__(self):
        self.erased = []

    @hookimpl
    def customer_export(self, customer, ctx):
        return {"stamps": 7, "favourite": customer.preferences.get("coffee")}

    @hookimpl
    def customer_erased(self, customer_id, ctx):
        self.erased.append(customer_id)


def test_export_holds_everything_unmasked_with_every_installed_plugin_and_is_audited(make_app):
    keeper = Keeper()
    app = make_app(plugins=[Manifest(name="keeper", version="1", summary="keeps", hooks=keeper)])
    chain = build_chain(app)
    ids = make_person(app, chain)
    api = Api(app.test_client())

    r = api.get(f"/customers/{ids['id']}/export", token=chain.manager_token)
    assert r.status_code == 200, r.json
    doc = r.json
    assert doc["profile"]["name"] == PERSON["renamed"]
    assert doc["profile"]["phone"] == "+8613912345678"
    assert doc["profile"]["email"] == PERSON["email"] and doc["profile"]["address"] == PERSON["address"]
    assert doc["profile"]["birthday"] == "1985-03-12"
    assert [(c["channel"], c["granted"]) for c in doc["consents"]] == [("sms", True), ("sms", False)]
    assert [s["id"] for s in doc["sales"]] == [ids["sale_id"]] and doc["sales"][0]["total"] == "28.00"
    assert [v["id"] for v in doc["visits"]] == [ids["visit_id"]]
    assert any(a["title"].startswith("called") for a in doc["activities"])
    assert doc["privacy_requests"][0]["kind"] == "export"
    # other core tables about the person come as rows, e.g. the classes the classification gave
    Api(app.test_client()).post("/classification/recompute", token=chain.owner_token)
    classes = api.get(f"/customers/{ids['id']}/export", token=chain.manager_token).json["other"]["customer_class"]
    assert classes and all(row["customer_id"] == ids["id"] for row in classes)
    # keeper is enabled nowhere, yet its part is in the export
    assert doc["plugins"]["keeper"] == {"stamps": 7, "favourite": PERSON["preference"]}

    audit = api.get("/audit?action=export", token=chain.owner_token).json["items"]
    assert [(a["actor"], a["target_id"]) for a in audit] == [("manager", str(ids["id"]))] * 2


def test_export_is_for_managers_of_the_customers_stores(app, chain):
    ids = make_person(app, chain)
    api = Api(app.test_client())
    assert api.get(f"/customers/{ids['id']}/export", token=chain.staff_token).status_code == 403
    assert api.get(f"/customers/{ids['id']}/export", token=chain.till).status_code == 403
    assert api.get(f"/customers/{ids['id']}/export", token=chain.owner_token).status_code == 200


def test_erasure_leaves_no_personal_trace_in_any_table_and_keeps_the_sales(make_app):
    keeper = Keeper()
    app = make_app(plugins=[Manifest(name="keeper", version="1", summary="keeps", hooks=keeper)])
    chain = build_chain(app)
    # every bundled plugin switched on, so their hooks store what they store about the person
    ids = make_person(app, chain, plugins=BUNDLED)
    api = Api(app.test_client())
    assert find_in_database(app, [PERSON["renamed"]]), "the scan must see plaintext where it is"
    # the classification (a core table about the person) is computed before the erasure
    assert api.post("/classification/recompute", token=chain.owner_token).status_code in (200, 202)
    with app.app_context():
        from core.extensions import db

        assert db.session.execute(sa.text("SELECT count(*) FROM customer_class WHERE customer_id = :i"),
                                  {"i": ids["id"]}).scalar() > 0

    assert api.delete(f"/customers/{ids['id']}", token=chain.staff_token).status_code == 403
    r = api.delete(f"/customers/{ids['id']}", token=chain.manager_token)
    assert r.status_code == 200, r.json
    assert r.json["sales_detached"] == 1 and r.json["visits_detached"] == 1
    assert keeper.erased == [ids["id"]]

    assert find_in_database(app, personal_needles()) == []
    # and no core table keeps a row pointing at the person (classes, timeline, consents...)
    from core.extensions import db
    from core.migrate import table_owner

    with app.app_context():
        for table in db.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table.name == "customer" and table_owner(table.name, app) == "core":
                    count = db.session.scalar(sa.select(sa.func.count()).select_from(table).where(fk.parent == ids["id"]))
                    assert count == 0, table.name
    assert api.get(f"/customers/{ids['id']}", token=chain.manager_token).status_code == 404
    sale = api.get(f"/sales/{ids['sale_id']}", token=chain.till).json
    assert sale["total"] == "28.00" and sale["customer_id"] is None
    # the phone registers again, as a new person
    r = api.post("/customers", {"name": "新客户", "phone": PERSON["phone_formats"][0]}, token=chain.till)
    assert r.status_code == 201, r.json
    assert r.json["id"] != ids["id"]
    # the audit log keeps an anonymous record of the erasure, with its date
    rows = api.get("/audit?action=erase", token=chain.owner_token).json["items"]
    assert [(row["target_type"], row["target_id"], row["actor"]) for row in rows] == [("customer", str(ids["id"]), "manager")]
    assert rows[0]["at"]
    # the request that was logged stays, without saying whose it was
    req = api.get("/privacy/requests", token=chain.manager_token).json["items"]
    assert [(q["id"], q["customer_id"], q["note"]) for q in req] == [(ids["request_id"], None, None)]


def test_a_plugin_that_cannot_erase_stops_the_whole_erasure(make_app):
    class Stubborn:
        @hookimpl
        def customer_erased(self, customer_id, ctx):
            raise RuntimeError("remote service down")

    app = make_app(plugins=[Manifest(name="stubborn", version="1", summary="fails", hooks=Stubborn())])
    chain = build_chain(app)
    ids = make_person(app, chain)
    api = Api(app.test_client())
    r = api.delete(f"/customers/{ids['id']}", token=chain.manager_token)
    assert r.status_code == 422
    assert "stubborn" in r.json["error"]["message"]
    assert api.get(f"/customers/{ids['id']}", token=chain.manager_token).json["name"] == PERSON["renamed"]
