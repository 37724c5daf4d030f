"""The configuration each process caches (tokens, stores, enabled plugins, settings) follows
every change at once, in every process: a version check, never a time to live. Two apps on one
database stand for two web processes."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import Api, enable


def test_a_revoked_token_is_refused_at_once_by_another_process(app, make_app, chain):
    other = Api(make_app().test_client())
    assert other.get("/customers", token=chain.till).status_code == 200  # cached there now
    with app.app_context():
        from core.extensions import db
        from core.models import ApiToken, utcnow

        for token in db.session.scalars(db.select(ApiToken).where(ApiToken.store_id.is_not(None))):
            token.revoked_at = utcnow()
        db.session.commit()
    answer = other.get("/customers", token=chain.till)
    assert answer.status_code == 401, answer.json
    assert answer.json["error"]["code"] == "unauthorized"


def test_a_module_switched_on_or_off_elsewhere_counts_on_the_next_request(app, make_app, api, chain):
    other = Api(make_app().test_client())
    assert other.get("/inventory/stock", token=chain.till).status_code == 404  # not on in SH001
    enable(app, "SH001", "inventory")
    assert other.get("/inventory/stock", token=chain.till).status_code == 200
    assert api.put("/stores/SH001/plugins/inventory", {"enabled": False}, token=chain.owner_token).status_code == 200
    assert other.get("/inventory/stock", token=chain.till).status_code == 404


def test_changed_settings_reach_a_sale_in_another_process_at_once(app, make_app, api, chain):
    enable(app, "SH001", "inventory")
    other = Api(make_app().test_client())
    sale = {"lines": [{"sku": "LATTE-M", "quantity": 1}], "payments": []}
    assert other.post("/sales", {**sale, "external_id": "a-1"}, token=chain.till).status_code == 201
    assert api.put("/stores/SH001/plugins/inventory/settings", {"allow_negative_stock": False},
                   token=chain.owner_token).status_code == 200
    refused = other.post("/sales", {**sale, "external_id": "a-2"}, token=chain.till)
    assert refused.status_code == 422, refused.json
    assert list(refused.json["error"]["fields"]) == ["lines.0.quantity"], refused.json


def test_a_configuration_change_rolled_back_leaves_the_cache_as_it_was(app, chain):
    from core.config_cache import current_version, forget_version
    from core.extensions import db
    from core.models import Store

    with app.app_context():
        before = current_version()
        store = db.session.scalars(db.select(Store).where(Store.code == "SH001")).one()
        store.name = "changed, then rolled back"
        db.session.flush()
        assert current_version() != before  # seen inside the transaction
        db.session.rollback()
        forget_version()
        assert current_version() == before


def test_on_sqlite_a_lookup_does_not_wait_for_a_sale_holding_the_write_lock(app, api, chain, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's single writer")
    from sqlalchemy import update

    from core.extensions import db
    from core.models import Store

    api.post("/customers", {"name": "王芳", "phone": "138 0013 8000"}, token=chain.owner_token)
    api.get("/customers", token=chain.till)  # the token's first use writes its last_used_at
    writing, release, looked_up = threading.Event(), threading.Event(), []

    def writer():
        with app.app_context():
            db.session.execute(update(Store).values(name=Store.name))  # holds the write lock until rollback
            writing.set()
            release.wait(20)
            db.session.rollback()

    def reader():
        looked_up.append(api.get("/customers?phone=13800138000", token=chain.till).status_code)

    held = threading.Thread(target=writer)
    held.start()
    assert writing.wait(10)
    lookup = threading.Thread(target=reader)
    lookup.start()
    lookup.join(10)
    # The lookup finished while the writer still held the lock.
    done_while_held = not lookup.is_alive() and not release.is_set()
    release.set()
    held.join(20)
    lookup.join(20)
    assert done_while_held, "a read waited for SQLite's write lock"
    assert looked_up == [200]
