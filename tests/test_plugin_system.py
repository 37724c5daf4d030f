"""The plugin system with tiny test plugins: per-store events, failures, dependencies, settings."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from core.plugins import Manifest, hookimpl
from tests.conftest import build_chain, enable

# The registry's rules (per-store dispatch, dependencies, settings, import errors): one backend.
# Delivery's SQL runs on both in tests/test_events_delivery.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SALE = {"external_id": "t-1", "lines": [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}]}


class Recorder:
    """Reacts to sale_recorded by writing an activity, so the reaction is visible in the database."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def sale_recorded(self, sale, ctx):
        self.seen.append((ctx.store.code, sale.id, ctx.event_id))

    @hookimpl
    def sale_result(self, sale, ctx):
        return {"seen": len(self.seen)}


class Exploding:
    def __init__(self):
        self.fail = True
        self.calls = 0

    @hookimpl
    def sale_recorded(self, sale, ctx):
        from core.models import Activity

        self.calls += 1
        if sale.customer_id:
            ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title="exploding saw it"))
            ctx.session.flush()
        if self.fail:
            raise RuntimeError("boom: the plugin's server is down")


class Settings(Schema):
    threshold = fields.Integer(load_default=10, validate=validate.Range(min=0, max=100))
    label = fields.String(load_default="hello")


def test_event_hook_runs_only_in_stores_that_enabled_the_plugin(make_app, api):
    recorder = Recorder()
    app = make_app(plugins=[Manifest(name="recorder", version="1.0", summary="records", hooks=recorder)])
    chain = build_chain(app)
    enable(app, "SH001", "recorder")
    client_api = type(api)(app.test_client())

    r = client_api.post("/sales", {**SALE}, token=chain.till)
    assert r.status_code == 201, r.json
    assert r.json["effects"] == {"recorder": {"seen": 1}}
    r = client_api.post("/sales", {**SALE, "external_id": "bj-1"}, token=chain.till_bj)
    assert r.status_code == 201
    assert r.json["effects"] == {}
    assert [code for code, _, _ in recorder.seen] == ["SH001"]


def test_a_raising_plugin_keeps_the_sale_and_its_delivery_is_retried_once(make_app):
    from core.events import retry_delivery
    from core.extensions import db
    from core.models import Activity, EventDelivery, Sale

    exploding = Exploding()
    app = make_app(plugins=[Manifest(name="exploding", version="1.0", summary="fails", hooks=exploding)])
    chain = build_chain(app)
    enable(app, "SH001", "exploding")
    client = app.test_client()
    body = {**SALE, "customer": {"phone": "13800138000"}}
    r = client.post("/api/v1/sales", json=body, headers={"Authorization": f"Bearer {chain.till}"})
    assert r.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
        delivery = db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == "exploding")).one()
        assert delivery.status == "failed"
        assert "boom" in delivery.last_error
        assert delivery.next_attempt_at is not None
        # the plugin's half-done write was rolled back with its savepoint
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
        exploding.fail = False
        assert retry_delivery(delivery.id) == "done"
        assert retry_delivery(delivery.id) == "done"  # a second retry does nothing
        assert exploding.calls == 2
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1


def test_enabling_pulls_dependencies_and_disabling_a_dependency_is_refused(make_app, api):
    base = Manifest(name="base", version="1.0", summary="base", hooks=Recorder())
    child = Manifest(name="child", version="1.0", summary="needs base", hooks=Recorder(), depends=("base",))
    app = make_app(plugins=[base, child])
    chain = build_chain(app)
    client_api = type(api)(app.test_client(), token=chain.owner_token)
    r = client_api.put("/stores/SH001/plugins/child", {"enabled": True})
    assert r.status_code == 200, r.json
    states = {p["name"]: p["enabled"] for p in r.json}
    assert states["base"] and states["child"]
    r = client_api.put("/stores/SH001/plugins/base", {"enabled": False})
    assert r.status_code == 409
    assert "child" in r.json["error"]["message"]
    assert client_api.put("/stores/SH001/plugins/child", {"enabled": False}).status_code == 200
    assert client_api.put("/stores/SH001/plugins/base", {"enabled": False}).status_code == 200


def test_plugin_enabled_that_raises_rolls_the_toggle_back(make_app, api):
    class Broken:
        @hookimpl
        def plugin_enabled(self, store, ctx):
            raise RuntimeError("cannot seed")

    app = make_app(plugins=[Manifest(name="broken", version="1.0", summary="x", hooks=Broken())])
    chain = build_chain(app)
    client_api = type(api)(app.test_client(), token=chain.owner_token)
    r = client_api.put("/stores/SH001/plugins/broken", {"enabled": True})
    assert r.status_code == 500
    r = client_api.get("/stores/SH001/plugins")
    assert {p["name"]: p["enabled"] for p in r.json}["broken"] is False


def test_settings_are_validated_by_the_plugin_schema(make_app, api):
    app = make_app(plugins=[Manifest(name="tuned", version="1.0", summary="x", hooks=Recorder(), settings_schema=Settings)])
    chain = build_chain(app)
    client_api = type(api)(app.test_client(), token=chain.owner_token)
    assert client_api.get("/stores/SH001/plugins/tuned/settings").json == {"threshold": 10, "label": "hello"}
    r = client_api.put("/stores/SH001/plugins/tuned/settings", {"threshold": 500})
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_error"
    assert "threshold" in r.json["error"]["fields"]
    assert client_api.get("/stores/SH001/plugins/tuned/settings").json["threshold"] == 10
    r = client_api.put("/stores/SH001/plugins/tuned/settings", {"threshold": 42})
    assert r.status_code == 200 and r.json["threshold"] == 42
    assert client_api.get("/stores/SH001/plugins/tuned/settings").json == {"threshold": 42, "label": "hello"}


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(make_app):
    bad = Manifest(name="bad", version="1.0", summary="x", hooks="tests.no_such_module_here")
    app = make_app(plugins=[bad], PLUGINS_STRICT=False)
    registry = app.extensions["storecrm.plugins"]
    assert "bad" not in registry.manifests
    assert "No module named" in registry.load_errors["bad"]


def test_a_misspelt_hookimpl_fails_loudly(make_app):
    import pytest
    from pluggy import PluginValidationError

    class Typo:
        @hookimpl
        def sale_recordd(self, sale, ctx):
            pass

    with pytest.raises(PluginValidationError):
        make_app(plugins=[Manifest(name="typo", version="1.0", summary="x", hooks=Typo())])
