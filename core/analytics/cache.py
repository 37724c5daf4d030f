"""The admin's forecast, computed once per store set and day: fitting Holt-Winters (and its
backtest) takes most of the analytics page's time, and its input — net sales per day up to
yesterday — only changes when a sale or a refund is written. The key therefore carries the
newest sale id and the refunded total of those stores, so a late or backdated sale or a refund
recomputes it. Kept on the app (`app.extensions`), bounded, per process.

The first forecast of a process also pays for importing statsmodels (about a second);
`warm_up` does that import in a background thread when a server starts."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import func, select

KEEP = 64


def cached_forecast(app, session, store_ids, today, weeks: int = 4) -> dict:
    from core.analytics import forecast as fc
    from core.live_stores import figure_scope
    from core.models import Sale

    stmt = select(func.max(Sale.id), func.coalesce(func.sum(Sale.refunded_total), 0))
    stmt = stmt.where(Sale.store_id.in_(figure_scope(store_ids)))
    newest, refunded = session.execute(stmt).one()
    key = (tuple(sorted(store_ids)) if store_ids is not None else None, today, weeks, newest, str(refunded))
    cache = app.extensions.setdefault("storecrm.forecast_cache", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    result = fc.forecast_sales(session, store_ids, weeks=weeks, today=today)
    cache[key] = result
    while len(cache) > KEEP:
        cache.popitem(last=False)
    return result


def warm_up() -> None:
    """Import the forecast's libraries in the background (a server, not tests or commands)."""
    def _import():
        try:
            import statsmodels.tsa.holtwinters  # noqa: F401
        except Exception:  # noqa: BLE001 - the page imports it again and reports any error there
            pass

    threading.Thread(target=_import, name="storecrm-warm-forecast", daemon=True).start()
