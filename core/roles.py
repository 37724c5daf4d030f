"""Who may do what: one table read by the REST API (`endpoint(role=...)`) and the admin
(`require(...)` in a view), so a page never allows what the API refuses, or the reverse.
Roles rank staff < manager < owner; a till's token acts as staff in its own store."""

from __future__ import annotations

ROLE_FOR = {
    "modules.view": "manager",            # see the store's modules and their settings
    "modules.toggle": "owner",            # switch a module on or off in a store
    "modules.settings.change": "owner",   # change a module's settings for a store
    "classification.settings.view": "manager",
    "classification.settings.change": "manager",
    "stores.create": "owner",
    "privacy.retention.change": "owner",
    "audit.read": "owner",
}


def role_for(action: str) -> str:
    return ROLE_FOR[action]


def may(user, action: str) -> bool:
    """Whether `user` (a User, or None for nobody) may do `action`."""
    return user is not None and user.at_least(ROLE_FOR[action])
