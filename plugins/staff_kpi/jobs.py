"""Scheduled staff_kpi work (registered through `register_jobs`): run inside an app context."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import Store, StorePlugin
from plugins.staff_kpi.services import rollup


def refresh_rollups(days: int = 3) -> int:
    """Nightly: rewrite the last `days` local days of the roll-up in every store with staff_kpi
    on, one store per transaction. Returns the number of stores."""
    reg = current_app.extensions["storecrm.plugins"]
    stores = list(db.session.scalars(select(Store).join(StorePlugin, StorePlugin.store_id == Store.id)
                                     .where(StorePlugin.plugin == "staff_kpi", StorePlugin.enabled.is_(True))))
    for store in stores:
        if reg.is_enabled(store, "staff_kpi"):
            rollup.rebuild_recent(db.session, store, days)
            db.session.commit()
    return len(stores)
