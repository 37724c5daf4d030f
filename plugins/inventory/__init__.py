"""inventory — stock ledger, safety stock, purchase orders, stocktakes, transfers, turnover
(库存管理; seed 001 §六, seed 000 §七).

Stock is kept per store and product and moved only by ledger entries; the level shown
anywhere is the sum of those moves (also kept as a running total, updated atomically)."""

from core.plugins import Manifest
from plugins.inventory.schemas import InventorySettings

manifest = Manifest(
    name="inventory",
    version="1.0.0",
    summary="Stock ledger, safety stock, purchase orders, stocktakes, transfers and turnover",
    title="Inventory",
    title_zh="库存",
    summary_zh="库存台账、安全库存、采购订单、盘点、调拨与周转分析",
    depends=(),
    settings_schema=InventorySettings,
    hooks="plugins.inventory.hooks",
    package="plugins.inventory",
)
