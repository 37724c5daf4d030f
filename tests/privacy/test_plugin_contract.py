"""Every installed plugin that keeps rows about customers takes part in export and erasure."""

from __future__ import annotations

from core.extensions import db


def test_plugins_with_customer_tables_implement_export_and_erasure(app):
    reg = app.extensions["storecrm.plugins"]
    exporters = set(reg.implementers("customer_export", reg.manifests))
    erasers = set(reg.implementers("customer_erased", reg.manifests))
    missing = []
    for name in reg.manifests:
        tables = [t.name for t in db.metadata.sorted_tables
                  if t.name.startswith(name + "_") and "customer_id" in t.c]
        if tables and not ({name} <= exporters and {name} <= erasers):
            missing.append(f"{name} ({', '.join(tables)})")
    assert missing == [], "implement customer_export and customer_erased in: " + "; ".join(missing)
