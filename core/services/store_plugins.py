"""Switching plugins on and off per store, and their per-store settings."""

from __future__ import annotations

from flask import current_app
from marshmallow import ValidationError

from core.audit import audit
from core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from core.models import Store, StorePlugin
from core.plugins import HookContext


def registry():
    return current_app.extensions["storecrm.plugins"]


def _row(session, store: Store, name: str) -> StorePlugin:
    row = session.get(StorePlugin, (store.id, name))
    if row is None:
        row = StorePlugin(store_id=store.id, plugin=name, enabled=False, settings={})
        session.add(row)
    return row


def store_plugins(session, store: Store) -> list[dict]:
    """Every installed plugin with its state in `store`."""
    reg = registry()
    enabled = reg.enabled_in(store)
    return [
        {"name": m.name, "version": m.version, "summary": m.summary, "depends": list(m.depends),
         "enabled": m.name in enabled}
        for m in (reg.manifests[n] for n in reg.ordered(reg.manifests))
    ]


def enable_plugin(session, store: Store, name: str, *, user=None, actor="system") -> list[str]:
    """Switch `name` on in `store`, with its dependencies first. Returns the plugins switched
    on. Atomic: if any `plugin_enabled` raises, nothing of the toggle stays. Caller commits."""
    reg = registry()
    if name not in reg.manifests:
        raise NotFound(f"no installed plugin named {name}")
    _refuse_without_tables(session, [p for p in reg.dependency_closure(name)])
    switched: list[str] = []
    enabled_before = reg.enabled_in(store)
    with session.begin_nested():
        for plugin in reg.dependency_closure(name):
            if plugin in enabled_before:
                continue
            row = _row(session, store, plugin)
            row.enabled = True
            session.flush()
            reg.forget_enabled()
            ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=reg, plugin=plugin)
            reg.caller_for("plugin_enabled", plugin)(store=store, ctx=ctx)
            audit("plugin_enable", actor=user or actor, target=("plugin", plugin), store=store, session=session)
            switched.append(plugin)
    reg.forget_enabled()
    return switched


def _refuse_without_tables(session, names: list[str]) -> None:
    """A plugin installed without its migrations would break every sale of the store."""
    from flask import current_app

    from core.migrate import by_owner, pending_migrations

    pending = by_owner(pending_migrations(current_app._get_current_object(), session.connection()))
    missing = [n for n in names if n in pending]
    if missing:
        raise Unprocessable(
            f"the tables of {', '.join(missing)} are not in the database yet: run `storecrm db upgrade`, then "
            "enable it", fields={"plugin": [f"Migrations pending: {', '.join(r for n in missing for r in pending[n])}."]})


def disable_plugin(session, store: Store, name: str, *, user=None, actor="system") -> bool:
    """Switch `name` off in `store`; refused while an enabled plugin depends on it. Data stays."""
    reg = registry()
    if name not in reg.manifests:
        raise NotFound(f"no installed plugin named {name}")
    enabled = reg.enabled_in(store)
    if name not in enabled:
        return False
    blocking = sorted(d for d in reg.dependents(name) if d in enabled)
    if blocking:
        raise Conflict(
            f"{name} cannot be switched off in {store.code}: {', '.join(blocking)} depend(s) on it; switch those off first",
            details={"dependents": blocking},
        )
    with session.begin_nested():
        row = _row(session, store, name)
        row.enabled = False
        session.flush()
        ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=reg, plugin=name)
        reg.caller_for("plugin_disabled", name)(store=store, ctx=ctx)
        audit("plugin_disable", actor=user or actor, target=("plugin", name), store=store, session=session)
    reg.forget_enabled()
    return True


def get_settings(session, store: Store, name: str) -> dict:
    reg = registry()
    if name not in reg.manifests:
        raise NotFound(f"no installed plugin named {name}")
    schema = reg.manifests[name].settings_schema
    return schema().dump(reg.settings(store, name)) if schema else {}


def update_settings(session, store: Store, name: str, values: dict, *, partial: bool = True, user=None, actor="system") -> dict:
    """Validate and store settings; a bad value is an InvalidInput naming the field, and
    nothing is stored. With `partial`, unspecified fields keep their current values."""
    reg = registry()
    if name not in reg.manifests:
        raise NotFound(f"no installed plugin named {name}")
    current = get_settings(session, store, name) if partial else {}
    try:
        clean = reg.validate_settings(name, {**current, **values})
    except ValidationError as exc:
        raise InvalidInput(f"invalid settings for {name}", fields=flatten_errors(exc.messages)) from exc
    row = _row(session, store, name)
    row.settings = clean
    audit("plugin_settings", actor=user or actor, target=("plugin", name), store=store, session=session,
          details={"changed": sorted(k for k in values)})
    reg.forget_enabled()
    return clean


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as `{"lines.0.quantity": ["..."]}`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(flatten_errors(value, path))
            else:
                flat[path] = [str(v) for v in (value if isinstance(value, list) else [value])]
    else:
        flat[prefix or "_schema"] = [str(m) for m in messages]
    return flat
