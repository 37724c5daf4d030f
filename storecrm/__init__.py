"""storecrm's public API for plugins: everything a plugin may import from the core, in one place.

A plugin imports from here (``from storecrm import hookimpl, db, customer_or_404``), never from
``core.*`` internals: the names below are the contract kept stable across releases; the rest of
``core`` may change. See docs/writing-plugins.md.
"""

from __future__ import annotations

from core.access import customer_or_404, visible_customers
from core.api import plugin_blueprint
from core.api.http import endpoint, keyset_page, principal, resolve_store
from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unprocessable
from core.extensions import db
from core.models import Customer, Product, Refund, RefundLine, Sale, SaleLine, Store, User, Visit
from core.models.prepared import Prepared
from core.models.types import MONEY, UTCDateTime, insert_for, money, utcnow
from core.plugins import HookContext, Manifest, hookimpl, in_transaction

__all__ = [
    # declaring a plugin and its hooks
    "Manifest", "hookimpl", "in_transaction", "HookContext",
    # models: the base class, column types, and the core tables a plugin may reference
    "db", "UTCDateTime", "MONEY", "money", "utcnow",
    "Customer", "Product", "Sale", "SaleLine", "Refund", "RefundLine", "Store", "User", "Visit",
    # statements built once for a reaction on the till's path; INSERT … ON CONFLICT per database
    "Prepared", "insert_for",
    # customers only through the visibility rule
    "customer_or_404", "visible_customers",
    # API endpoints: a blueprint that is 404 where the plugin is off, documented operations
    "plugin_blueprint", "endpoint", "principal", "resolve_store", "keyset_page",
    # errors, answered in the API's one error shape
    "DomainError", "InvalidInput", "NotFound", "Forbidden", "Conflict", "Unprocessable",
]
