"""`storecrm products import FILE`: the catalogue from a CSV or XLSX file with Chinese or
English headers. A row whose SKU exists updates that product; every rejected row is reported
with its line, column and reason, and nothing of a rejected row is written."""

from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import ValidationError
from sqlalchemy import select

from core.errors import InvalidInput
from core.imports.readers import open_table
from core.models import Product

# Column header (as a shop's spreadsheet names it) -> product field.
HEADERS = {
    "sku": "sku", "商品编号": "sku", "编号": "sku", "货号": "sku", "商品编码": "sku",
    "name": "name", "商品名称": "name", "名称": "name", "品名": "name",
    "price": "price", "价格": "price", "售价": "price", "单价": "price", "零售价": "price",
    "cost": "cost", "成本": "cost", "进价": "cost", "成本价": "cost",
    "category": "category", "分类": "category", "类别": "category", "品类": "category",
    "brand": "brand", "品牌": "brand",
    "barcode": "barcode", "条码": "barcode", "条形码": "barcode",
}


@dataclass
class ProductImport:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)  # {"line", "field", "reason"}


def import_products(session, path: str) -> ProductImport:
    """Read `path` and add or update its products in the caller's transaction."""
    from core.api.schemas import ProductIn

    table = open_table(path)
    try:
        columns = {i: HEADERS.get(h.strip(), HEADERS.get(h.strip().lower())) for i, h in enumerate(table.headers)}
        missing = {"sku", "name", "price"} - set(columns.values())
        if missing:
            raise InvalidInput(f"the header row lacks {', '.join(sorted(missing))} (e.g. 商品编号, 商品名称, 价格)",
                               fields={"file": [f"Missing column: {m}." for m in sorted(missing)]})
        rows = []
        for line, cells in table.rows:
            row = {columns[i]: _text(cell) for i, cell in enumerate(cells) if columns.get(i) and _text(cell) != ""}
            rows.append((line, row))
    finally:
        table.close()
    result = ProductImport()
    schema = ProductIn()
    existing = {p.sku: p for p in session.scalars(select(Product).where(
        Product.sku.in_({row.get("sku") for _, row in rows if row.get("sku")})))}
    for line, row in rows:
        try:
            data = schema.load(row)
        except ValidationError as exc:
            for column, reasons in exc.messages.items():
                result.errors.append({"line": line, "field": column, "reason": " ".join(map(str, reasons))})
            continue
        product = existing.get(data["sku"])
        if product is None:
            product = Product(sku=data["sku"])
            session.add(product)
            existing[data["sku"]] = product
            result.created += 1
        else:
            result.updated += 1
        for name in ("name", "price", "cost", "category", "brand", "barcode"):
            if name in data:
                setattr(product, name, data[name])
    return result


def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return str(cell).strip()
