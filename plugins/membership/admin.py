"""Admin views for membership: filled in once core/admin's base classes are committed."""

from __future__ import annotations


def register(admin, app) -> None:
    return None
