"""Blank import files to fill in: the Chinese headers the importers read (the first name of
each field in `core.imports.columns` / `core.imports.products`), as CSV or XLSX."""

from __future__ import annotations

from core.admin.list_export import table_bytes
from core.imports.columns import CUSTOMER_COLUMNS, SALE_COLUMNS

PRODUCT_HEADERS = ["商品编号", "商品名称", "售价", "成本", "分类", "品牌", "条码"]
KINDS = ("customers", "sales", "products")


def headers(kind: str) -> list[str]:
    if kind == "customers":
        return [aliases[0] for aliases in CUSTOMER_COLUMNS.values()]
    if kind == "sales":
        return [aliases[0] for aliases in SALE_COLUMNS.values()]
    if kind == "products":
        return list(PRODUCT_HEADERS)
    raise KeyError(kind)


def blank_file(kind: str, fmt: str) -> bytes:
    return table_bytes(headers(kind), [], fmt, kind)
