"""The plugin contract: markers, the manifest and the context every hook receives."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from core.plugins.hookspecs import hookspec

hookimpl = pluggy.HookimplMarker("storecrm")

# The attribute `in_transaction` sets on a hook implementation (docs/hooks.md,
# "Event hooks"): the registry reads it to decide when the reaction runs.
IN_TRANSACTION_ATTR = "storecrm_in_transaction"


def in_transaction(func):
    """Mark an event-hook implementation as a reaction the till's answer needs at once (points
    earned, a stock decrement a below-zero rule checks, a coupon marked used): it runs inside the
    sale's transaction. Every other reaction runs after the commit, from the outbox (the default).

        @hookimpl
        @in_transaction
        def sale_recorded(sale, ctx): ...
    """
    setattr(func, IN_TRANSACTION_ATTR, True)
    return func


def runs_in_transaction(func) -> bool:
    return bool(getattr(func, IN_TRANSACTION_ATTR, False))


# A plugin that implements an event hook both ways has two deliveries per event: its reaction
# in the transaction under its own name, the one after the commit under this suffix (plugin names
# are identifiers: no plugin's name has a dot).
AFTER_COMMIT_SUFFIX = ".after_commit"


def reaction_key(plugin: str, *, in_transaction: bool, both: bool) -> str:
    """The delivery key (`event_delivery.plugin`) of a plugin's reaction: its name, or for the
    after-commit half of a plugin that reacts both ways, its name and AFTER_COMMIT_SUFFIX."""
    return plugin + AFTER_COMMIT_SUFFIX if both and not in_transaction else plugin


def reaction_plugin(key: str) -> str:
    """The plugin a delivery key belongs to (the key itself for the core's reactions)."""
    return key.removesuffix(AFTER_COMMIT_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    """What a plugin declares about itself, from its package's `__init__.py`.

    `hooks` is the hookimpl module (a dotted path, a module or any object with hookimpls).
    `settings_schema` is a marshmallow Schema class whose fields carry `load_default`s.
    `package` is the plugin's import name, used to find `migrations/` and `translations/`.
    """

    name: str
    version: str
    summary: str
    hooks: Any
    depends: tuple[str, ...] = ()
    settings_schema: Any = None
    package: str | None = None
    summary_zh: str | None = None
    title: str | None = None      # the module's name as people read it ("Membership"); default: `name`
    title_zh: str | None = None   # the same in Chinese ("会员")

    def display_title(self, zh: bool) -> str:
        return (self.title_zh if zh else None) or self.title or self.name

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"plugin name {self.name!r} must be an identifier")


@dataclass
class HookContext:
    """What every hook gets as `ctx`: where, who, and within which transaction."""

    session: Any
    store: Any = None
    user: Any = None
    actor: str = "system"
    event_id: int | None = None
    plugin: str | None = None
    registry: Any = field(default=None, repr=False)
    # Set while the outbox delivers a batch of events (core.delivery): see `once_per_batch`.
    batch: Any = field(default=None, repr=False)
    # The delivery key of the reaction being run (`reaction_key`), when it differs from `plugin`.
    reaction: str | None = None

    def once_per_batch(self, key, flush, *items) -> None:
        """Work that many reactions of one delivery batch share, done once for the batch: a
        roll-up of one store's day rather than one per sale. Adds `items` under `key` (hashable,
        e.g. ``("staff_kpi", store_id)``); after the batch's reactions, `flush(session, items)`
        runs once with every item added under `key`, in order, repeats dropped. Should it
        raise, each reaction that added to it is recorded as failed and retried. A reaction
        run alone (in the transaction, or a retry) flushes at once."""
        if self.batch is None:
            flush(self.session, list(dict.fromkeys(items)))
        else:
            self.batch.add(key, flush, items, (self.reaction or self.plugin, self.event_id))

    def settings(self, plugin: str | None = None) -> dict:
        """The settings of `plugin` (default: the plugin being called) for `ctx.store`."""
        return self.registry.settings(self.store, plugin or self.plugin)

    def for_plugin(self, name: str) -> "HookContext":
        return replace(self, plugin=name, reaction=None)

    def for_reaction(self, key: str) -> "HookContext":
        """For the reaction that the delivery key `key` names (`reaction_key`)."""
        plugin = reaction_plugin(key)
        return replace(self, plugin=plugin, reaction=key if key != plugin else None)


__all__ = ["HookContext", "Manifest", "hookimpl", "hookspec", "in_transaction", "reaction_key", "reaction_plugin",
           "runs_in_transaction"]
