"""Staff KPI's part of a sandbox store's reset (hook `sandbox_reset`): its figures go, its
targets (settings) stay."""

from __future__ import annotations

from sqlalchemy import delete

from core.services.sandbox import delete_rows
from plugins.staff_kpi.models import DailyFigure, SaleFact, StoreState


def reset(session, store, customer_ids) -> dict[str, int]:
    return delete_rows(session, [
        ("staff_kpi_sale_fact", delete(SaleFact).where(SaleFact.store_id == store.id)),
        ("staff_kpi_daily", delete(DailyFigure).where(DailyFigure.store_id == store.id)),
        ("staff_kpi_store_state", delete(StoreState).where(StoreState.store_id == store.id)),
    ])
