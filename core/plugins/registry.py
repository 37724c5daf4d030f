"""One plugin manager per app: loading, per-store switches, per-store hook calls, settings."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import logging
import traceback
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType

import pluggy
from flask import has_app_context
from marshmallow import ValidationError
from sqlalchemy import select

from core.config_cache import cached, forget_version
from core.extensions import db
from core.plugins import HookContext, Manifest, hookspecs, reaction_key, reaction_plugin, runs_in_transaction

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "storecrm.plugins"


class PluginLoadError(RuntimeError):
    pass


class PluginToggleError(Exception):
    """A switch that cannot be made (unknown plugin, a dependency rule); the message says why."""


class PluginRegistry:
    def __init__(self):
        self.pm = pluggy.PluginManager("storecrm")
        self.pm.add_hookspecs(hookspecs)
        self.manifests: dict[str, Manifest] = {}
        self.load_errors: dict[str, str] = {}
        self._by_name: dict[str, object] = {}
        # (hook, enabled plugins) -> (in the transaction, after the commit): fixed once loaded.
        self._reaction_kinds: dict[tuple[str, frozenset[str]], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._reaction_callers: dict[tuple[str, str], object] = {}

    # --- loading --------------------------------------------------------------------------

    def load(self, only: list[str] | None, strict: bool, extra: list[Manifest] = ()) -> None:
        """Load installed plugins from entry points (each in its own guard), then `extra`
        manifests (tests register tiny plugins this way), then check dependencies."""
        candidates: list[tuple[str, object]] = []
        # pluggy's load_setuptools_entrypoints stops at the first broken plugin; a shop must
        # still start when one third-party package is broken, so each entry point is guarded.
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if only is not None and ep.name not in only:
                continue
            candidates.append((ep.name, ep))
        candidates.extend((m.name, m) for m in extra)
        if only is not None:
            # A typo in STORECRM_PLUGINS would otherwise silently switch a module off everywhere.
            found = {name for name, _ in candidates}
            for name in only:
                if name not in found:
                    self._fail(name, PluginLoadError(f"named in STORECRM_PLUGINS but not installed (no "
                                                     f"{ENTRY_POINT_GROUP!r} entry point called {name!r})"), strict)
        for name, source in candidates:
            try:
                manifest = source.load() if not isinstance(source, Manifest) else source
                if isinstance(manifest, ModuleType):
                    manifest = manifest.manifest
                if not isinstance(manifest, Manifest):
                    raise PluginLoadError(f"entry point {name!r} does not name a storecrm Manifest")
                self._register(manifest)
            except Exception as exc:  # noqa: BLE001 - any import error must be reported, not fatal
                self._fail(name, exc, strict)
        cyclic = sorted(n for n in self.manifests if any(n in self._closure(d) for d in self.manifests[n].depends))
        for name in cyclic:
            self._unregister(name)
            self._fail(name, PluginLoadError(f"its dependencies form a cycle ({', '.join(cyclic)})"), strict)
        # Until nothing changes: dropping a plugin can leave one that depends on it stranded.
        dropped = True
        while dropped:
            dropped = False
            for name in list(self.manifests):
                missing = [d for d in self.manifests[name].depends if d not in self.manifests]
                if missing:
                    self._unregister(name)
                    self._fail(name, PluginLoadError(f"depends on {', '.join(missing)}, which did not load"), strict)
                    dropped = True
        # A hookimpl with a misspelt name fails loudly here rather than never being called.
        self.pm.check_pending()

    def _register(self, manifest: Manifest) -> None:
        if manifest.name in self.manifests:
            raise PluginLoadError(f"plugin {manifest.name!r} is registered twice")
        hooks = manifest.hooks
        if isinstance(hooks, str):
            hooks = importlib.import_module(hooks)
        if manifest.package and importlib.util.find_spec(manifest.package + ".models") is not None:
            importlib.import_module(manifest.package + ".models")  # its tables join the metadata
        self.pm.register(hooks, name=manifest.name)
        self.manifests[manifest.name] = manifest
        self._by_name[manifest.name] = hooks
        self._reaction_kinds.clear()
        self._reaction_callers.clear()

    def _unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.manifests.pop(name, None)
        self._by_name.pop(name, None)
        self._reaction_kinds.clear()
        self._reaction_callers.clear()

    def _fail(self, name: str, exc: Exception, strict: bool) -> None:
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.load_errors[name] = summary
        log.error("plugin %s failed to load and is skipped: %s", name, summary)
        if strict:
            raise PluginLoadError(f"plugin {name!r} failed to load: {summary}") from exc

    # --- ordering -----------------------------------------------------------------------------

    def ordered(self, names) -> list[str]:
        """Names in dependency order (a plugin after those it depends on), then by name."""
        order: list[str] = []

        def visit(n: str) -> None:
            if n in order or n not in self.manifests:
                return
            for dep in self.manifests[n].depends:
                visit(dep)
            order.append(n)

        for n in sorted(names):
            visit(n)
        wanted = set(names)
        return [n for n in order if n in wanted]

    def dependency_closure(self, name: str) -> list[str]:
        return self.ordered(self._closure(name))

    def _closure(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if n in self.manifests:
                stack.extend(self.manifests[n].depends)
        return seen

    def dependents(self, name: str) -> set[str]:
        return {n for n in self.manifests if n != name and name in self._closure(n)}

    # --- per-store state --------------------------------------------------------------------------

    def enabled_in(self, store) -> frozenset[str]:
        """Plugins switched on in `store`: cached per process under the configuration version
        (core/config_cache.py), so a toggle counts at once everywhere, without a restart."""
        if store is None:
            return frozenset()
        store_id = store if isinstance(store, int) else store.id

        def load():
            from core.models import StorePlugin

            rows = db.session.scalars(
                select(StorePlugin.plugin).where(StorePlugin.store_id == store_id, StorePlugin.enabled.is_(True)))
            return frozenset(n for n in rows if n in self.manifests)

        return cached("enabled_plugins", store_id, load) if has_app_context() else load()

    def forget_enabled(self) -> None:
        """This context switched a plugin or changed settings: read the version anew."""
        forget_version()

    def is_enabled(self, store, name: str) -> bool:
        return name in self.enabled_in(store)

    # --- calling hooks ------------------------------------------------------------------------

    def implementers(self, hook_name: str, names) -> list[str]:
        """Of `names`, those that implement `hook_name`, in dependency order."""
        impl = self._impl_names(hook_name)
        return [n for n in self.ordered(names) if n in impl]

    def reaction_kinds(self, hook_name: str, names) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Of `names`, the reactions to the event hook `hook_name`, in dependency order, split into
        those marked `@in_transaction` (run inside the writing transaction) and the others
        (delivered after the commit, from the outbox), each named by its delivery key
        (`reaction_key`). A plugin that implements the hook both ways is in both. Computed once
        per enabled set."""
        key = (hook_name, frozenset(names))
        kinds = self._reaction_kinds.get(key)
        if kinds is None:
            hook = getattr(self.pm.hook, hook_name)
            split: dict[str, set[bool]] = {}
            for impl in hook.get_hookimpls():
                split.setdefault(self.pm.get_name(impl.plugin), set()).add(runs_in_transaction(impl.function))
            ordered = self.implementers(hook_name, key[1])
            kinds = (tuple(n for n in ordered if True in split[n]),
                     tuple(reaction_key(n, in_transaction=False, both=len(split[n]) == 2)
                           for n in ordered if False in split[n]))
            self._reaction_kinds[key] = kinds
        return kinds

    def runs_in_transaction(self, hook_name: str, plugin: str) -> bool:
        return plugin in self.reaction_kinds(hook_name, (plugin,))[0]

    def reaction_caller(self, hook_name: str, key: str):
        """The reaction that the delivery key `key` names (`reaction_key`): the plugin's hook
        implementations of that kind alone, called like a pluggy hook (keyword arguments; a
        list of the answers that are not None). Built once per pair."""
        caller = self._reaction_callers.get((hook_name, key))
        if caller is None:
            plugin = reaction_plugin(key)
            after_commit = key != plugin
            impls = [i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if self.pm.get_name(i.plugin) == plugin]
            kinds = {runs_in_transaction(i.function) for i in impls}
            if len(kinds) < 2:
                caller = self.caller_for(hook_name, plugin)  # one kind: pluggy's own call
            else:
                chosen = [i for i in impls if runs_in_transaction(i.function) != after_commit]
                caller = _impls_caller(chosen)
            self._reaction_callers[(hook_name, key)] = caller
        return caller

    def _impl_names(self, hook_name: str) -> frozenset[str]:
        hook = getattr(self.pm.hook, hook_name)
        return frozenset(self.pm.get_name(i.plugin) for i in hook.get_hookimpls())

    def caller_for(self, hook_name: str, plugin: str):
        """The hook as implemented by `plugin` alone (cached: built once per pair)."""
        return _single_caller(self, hook_name, plugin)

    def subset_caller(self, hook_name: str, enabled: frozenset[str]):
        """The hook restricted to the `enabled` plugins (cached per enabled set)."""
        return _subset_caller(self, hook_name, enabled)

    def call_guarded(self, hook_name: str, plugin: str, ctx: HookContext, **kwargs) -> list:
        """`hook_name` as `plugin` implements it (its answers), or [] when it raises (logged):
        for what a page shows, where one broken module must not hide the rest."""
        try:
            return self.caller_for(hook_name, plugin)(ctx=ctx.for_plugin(plugin), **kwargs)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("plugin %s failed in %s", plugin, hook_name)
            return []

    def collect(self, hook_name: str, plugins, ctx: HookContext, **kwargs) -> dict[str, object]:
        """Call `hook_name` on each of `plugins` that implements it; results keyed by plugin,
        None results dropped. Exceptions propagate (callers decide how to guard)."""
        results = {}
        for name in self.implementers(hook_name, plugins):
            values = self.caller_for(hook_name, name)(ctx=ctx.for_plugin(name), **kwargs)
            if values:  # pluggy drops None results, so an empty list means "nothing to add"
                results[name] = values[0]
        return results

    def collect_enabled(self, hook_name: str, ctx: HookContext, **kwargs) -> dict[str, object]:
        return self.collect(hook_name, self.enabled_in(ctx.store), ctx, **kwargs)

    def call_registration(self, hook_name: str, **kwargs) -> list:
        return getattr(self.pm.hook, hook_name)(**kwargs)

    # --- settings -------------------------------------------------------------------------------

    def settings(self, store, name: str) -> dict:
        """The plugin's settings for the store: stored values over the schema's defaults.
        Without a store (a chain-wide job, a customer with no home store): the defaults."""
        manifest = self.manifests[name]
        if manifest.settings_schema is None:
            return {}
        if store is None:
            return manifest.settings_schema().load({})
        store_id = store if isinstance(store, int) else store.id

        def load():
            from core.models import StorePlugin

            row = db.session.get(StorePlugin, (store_id, name))
            stored = dict(row.settings or {}) if row else {}
            schema = manifest.settings_schema()
            try:
                return schema.load(stored)
            except ValidationError as exc:
                # Stored under an older version of the plugin, whose schema has since changed:
                # the till must keep selling, so those fields fall back to their defaults.
                bad = set(exc.messages) if isinstance(exc.messages, dict) else set(stored)
                log.warning("settings %s of plugin %s in store %s are no longer valid; using defaults",
                            sorted(bad), name, store_id)
                return schema.load({k: v for k, v in stored.items() if k not in bad})

        if not has_app_context():
            return load()
        # A copy: a caller changing its settings dict must not change what other requests read.
        return copy.deepcopy(cached("plugin_settings", (store_id, name), load))

    def validate_settings(self, name: str, values: dict) -> dict:
        """Validate a full settings document; raise marshmallow.ValidationError with fields."""
        manifest = self.manifests[name]
        if manifest.settings_schema is None:
            if values:
                raise ValidationError({"_schema": [f"plugin {name} has no settings"]})
            return {}
        schema = manifest.settings_schema()
        return schema.dump(schema.load(values))


def _impls_caller(impls):
    """Call these hook implementations as pluggy would (last registered first; None answers
    dropped), for the one kind of reaction of a plugin that implements a hook both ways."""
    ordered = list(reversed(impls))

    def call(**kwargs):
        answers = []
        for impl in ordered:
            answer = impl.function(*[kwargs[name] for name in impl.argnames])
            if answer is not None:
                answers.append(answer)
        return answers

    return call


@lru_cache(maxsize=4096)
def _single_caller(registry: PluginRegistry, hook_name: str, plugin: str):
    others = [p for n, p in registry._by_name.items() if n != plugin]
    return registry.pm.subset_hook_caller(hook_name, remove_plugins=others)


@lru_cache(maxsize=4096)
def _subset_caller(registry: PluginRegistry, hook_name: str, enabled: frozenset[str]):
    others = [p for n, p in registry._by_name.items() if n not in enabled]
    return registry.pm.subset_hook_caller(hook_name, remove_plugins=others)
