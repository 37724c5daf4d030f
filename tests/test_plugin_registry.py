"""Loading plugins: what cannot load is reported and skipped, never half-loaded."""

from __future__ import annotations

import pytest

from core.plugins import Manifest, hookimpl
from core.plugins.registry import PluginLoadError, PluginRegistry


class Hooks:
    @hookimpl
    def sale_result(self, sale):
        return {}


def m(name, *depends):
    return Manifest(name=name, version="1", summary=name, hooks=Hooks(), depends=depends)


def load(*manifests, only=(), strict=False):
    registry = PluginRegistry()
    registry.load(list(only), strict, extra=list(manifests))
    return registry


def test_a_missing_dependency_strands_the_whole_chain_above_it():
    # a -> b -> c, and c is not installed: b and a go too, in whatever order they were listed
    registry = load(m("a", "b"), m("b", "c"), m("ok"))
    assert sorted(registry.manifests) == ["ok"]
    assert registry.load_errors["b"].endswith("depends on c, which did not load")
    assert registry.load_errors["a"].endswith("depends on b, which did not load")
    assert registry.pm.get_plugin("a") is None and registry.pm.get_plugin("b") is None


def test_a_dependency_cycle_is_reported_not_a_recursion_error():
    registry = load(m("x", "y"), m("y", "x"), m("z", "x"), m("ok"))
    assert sorted(registry.manifests) == ["ok"]
    assert "cycle (x, y)" in registry.load_errors["x"] and "cycle (x, y)" in registry.load_errors["y"]
    assert "depends on x" in registry.load_errors["z"]
    assert registry.ordered(["ok"]) == ["ok"]


def test_a_plugin_named_in_storecrm_plugins_but_not_installed_is_reported():
    registry = load(only=["no_such_plugin"])
    assert "named in STORECRM_PLUGINS but not installed" in registry.load_errors["no_such_plugin"]
    with pytest.raises(PluginLoadError, match="no_such_plugin"):
        load(only=["no_such_plugin"], strict=True)


def test_strict_mode_turns_a_broken_plugin_into_a_start_up_error():
    with pytest.raises(PluginLoadError, match="depends on c"):
        load(m("b", "c"), strict=True)


def test_settings_stored_by_an_older_version_fall_back_to_defaults_instead_of_crashing(make_app):
    from marshmallow import Schema, fields, validate
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Store, StorePlugin
    from tests.conftest import Api, build_chain, enable

    class Settings(Schema):
        threshold = fields.Integer(load_default=10, validate=validate.Range(min=0, max=100))
        label = fields.String(load_default="hello")

    class Reads:
        @hookimpl
        def sale_result(self, sale, ctx):
            return ctx.settings()

    app = make_app(plugins=[Manifest(name="tuned", version="2", summary="x", hooks=Reads(), settings_schema=Settings)])
    chain = build_chain(app)
    enable(app, "SH001", "tuned")
    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        row = db.session.get(StorePlugin, (store.id, "tuned"))
        row.settings = {"threshold": 500, "label": "kept", "removed_in_v2": True}
        db.session.commit()
    r = Api(app.test_client()).post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till)
    assert r.status_code == 201
    assert r.json["effects"]["tuned"] == {"threshold": 10, "label": "kept"}


def test_settings_without_a_store_are_the_defaults():
    from marshmallow import Schema, fields

    class Settings(Schema):
        greeting = fields.String(load_default="你好")

    registry = load(Manifest(name="tuned", version="1", summary="x", hooks=Hooks(), settings_schema=Settings))
    assert registry.settings(None, "tuned") == {"greeting": "你好"}
