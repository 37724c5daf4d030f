"""Scheduled staff_kpi work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import Store, StorePlugin
from plugins.staff_kpi.services import rollup


def refresh_rollups(days: int = 3, store_id: int | None = None) -> int:
    """Nightly: rewrite the last `days` local days of the roll-up in every store with staff_kpi
    on (or in `store_id` alone: the scheduler runs it per store, on the store's clock), one
    store per transaction. Returns the number of stores."""
    reg = current_app.extensions["storecrm.plugins"]
    query = (select(Store).join(StorePlugin, StorePlugin.store_id == Store.id)
             .where(StorePlugin.plugin == "staff_kpi", StorePlugin.enabled.is_(True)))
    if store_id is not None:
        query = query.where(Store.id == store_id)
    stores = list(db.session.scalars(query))
    for store in stores:
        if reg.is_enabled(store, "staff_kpi"):
            rollup.rebuild_recent(db.session, store, days)
            db.session.commit()
    return len(stores)
