"""storecrm core: app factory, domain records, plugin registry, events, jobs, API, CLI."""

from core.app import create_app

__all__ = ["create_app"]
