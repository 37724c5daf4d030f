"""staff_kpi — staff performance, targets, leaderboard and commission (seed 001 §七, seed 002 §五).

Figures per salesperson, store and period come from the ledger of sales and refunds (kept as a
daily roll-up per store, salesperson and local day) and from what other plugins contribute
through `kpi_metrics`; see README.md for every definition."""

from core.plugins import Manifest
from plugins.staff_kpi.schemas import StaffKpiSettings

manifest = Manifest(
    name="staff_kpi",
    version="1.0.0",
    summary="Staff performance, monthly targets, leaderboard and commission",
    title="Staff performance",
    title_zh="员工绩效",
    summary_zh="员工绩效、月度目标、排行榜与提成",
    depends=(),
    settings_schema=StaffKpiSettings,
    hooks="plugins.staff_kpi.hooks",
    package="plugins.staff_kpi",
)
