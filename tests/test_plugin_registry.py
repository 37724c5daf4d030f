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
