"""Column mapping (Chinese or English headers) and the parsing of cell values."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from marshmallow.validate import Email

from core.errors import InvalidInput

CUSTOMER_COLUMNS = {
    "code": ["会员卡号", "卡号", "会员号", "客户编号", "客户编码", "code", "customer_code", "card", "card_no", "member_no"],
    "name": ["姓名", "名字", "客户名", "客户姓名", "name", "full_name"],
    "gender": ["性别", "gender", "sex"],
    "phone": ["手机号", "手机", "手机号码", "电话", "联系电话", "phone", "mobile", "tel"],
    "birthday": ["生日", "出生日期", "birthday", "birth_date", "dob"],
    "email": ["邮箱", "电子邮件", "电子邮箱", "email", "e-mail", "mail"],
    "occupation": ["职业", "occupation", "job"],
    "hobbies": ["爱好", "兴趣", "兴趣爱好", "hobbies", "hobby", "interests"],
    "preferences": ["偏好", "喜好", "preferences", "preference"],
    "tags": ["标签", "tags", "tag"],
    "notes": ["备注", "说明", "notes", "note", "remark", "remarks"],
    "address": ["地址", "住址", "address"],
    "wechat_id": ["微信", "微信号", "wechat", "wechat_id"],
    "household": ["家庭", "家庭情况", "household"],
    "home_store": ["门店", "所属门店", "门店编号", "home_store", "store"],
}

SALE_COLUMNS = {
    "store": ["门店", "门店编号", "店铺", "store", "store_code"],
    "external_id": ["单号", "小票号", "订单号", "流水号", "external_id", "receipt", "receipt_no", "order_no"],
    "occurred_at": ["时间", "消费时间", "日期", "消费日期", "交易时间", "occurred_at", "date", "time", "datetime"],
    "customer_code": ["会员卡号", "卡号", "客户编号", "customer_code", "code", "card_no"],
    "phone": ["手机号", "手机", "电话", "phone", "mobile"],
    "total": ["金额", "消费金额", "总额", "实收金额", "total", "amount"],
    "sku": ["商品编号", "商品编码", "货号", "sku"],
    "quantity": ["数量", "quantity", "qty"],
    "unit_price": ["单价", "unit_price", "price"],
    "staff": ["店员", "销售员", "导购", "staff", "salesperson"],
    "channel": ["渠道", "channel"],
}

_LIST_SPLIT = re.compile(r"[;；,，、/|]")
_PREF_SPLIT = re.compile(r"[;；\n]")


class RowError(Exception):
    """A cell that cannot be taken: its field and the reason (several per row possible)."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-（）()]+", "", str(header or "")).lower()


def map_headers(headers: list[str], known: dict[str, list[str]], extra: dict[str, str] | None = None
                ) -> tuple[dict[str, int], list[str]]:
    """{field: column index} for the headers we know, and the headers we do not.

    `extra` maps a header of this file to a field (`--map 客户名=name`)."""
    lookup = {_norm(alias): field for field, aliases in known.items() for alias in aliases}
    lookup.update({_norm(h): f for h, f in (extra or {}).items()})
    mapping: dict[str, int] = {}
    unknown: list[str] = []
    for i, header in enumerate(headers):
        field = lookup.get(_norm(header))
        if field and field not in mapping:
            mapping[field] = i
        elif str(header).strip():
            unknown.append(str(header))
    return mapping, unknown


def cell(cells: list, mapping: dict[str, int], field: str):
    i = mapping.get(field)
    if i is None or i >= len(cells):
        return None
    value = cells[i]
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a card number or phone typed as a number in Excel
    return str(value).strip() or None


def gender(value) -> str | None:
    raw = (text(value) or "").lower()
    if not raw:
        return None
    for code, words in (("male", ("男", "m", "male", "先生")), ("female", ("女", "f", "female", "女士")),
                        ("other", ("其他", "other")), ("unknown", ("未知", "unknown", "保密"))):
        if raw in words:
            return code
    raise ValueError(f"unknown gender {value!r} (男/女, male/female)")


def birthday(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    from core.services.customers import parse_birthday

    try:
        year, month, day = parse_birthday(text(value))
    except InvalidInput as exc:
        raise ValueError(exc.fields.get("birthday", [exc.message])[0]) from exc
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


_email = Email()


def email(value) -> str | None:
    raw = text(value)
    if raw is None:
        return None
    try:
        return _email(raw).lower()
    except ValidationError as exc:
        raise ValueError(f"not an email address: {raw}") from exc


def split_list(value) -> list[str]:
    return [p.strip() for p in _LIST_SPLIT.split(text(value) or "") if p.strip()]


def preferences(value) -> dict[str, str]:
    """`咖啡:热 不加糖` → {"咖啡": "热 不加糖"}; `尺码:M;风格:简约` → two entries."""
    prefs: dict[str, str] = {}
    for part in _PREF_SPLIT.split(text(value) or ""):
        key, sep, val = part.replace("：", ":").partition(":")
        if key.strip():
            prefs[key.strip()] = val.strip() if sep else ""
    return prefs


def money(value) -> Decimal:
    raw = text(value) if not isinstance(value, (int, float, Decimal)) else value
    try:
        amount = Decimal(str(raw).replace(",", "").replace("¥", "").replace("￥", "").strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {value}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value}")
    return amount.quantize(Decimal("0.01"))


def quantity(value) -> Decimal:
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a quantity: {value}") from exc
    if not qty.is_finite() or qty <= 0:
        raise ValueError(f"not a quantity: {value}")
    return qty


_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
            "%Y.%m.%d %H:%M", "%Y.%m.%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")


def moment(value, tz: ZoneInfo) -> datetime:
    """A sale's time: ISO 8601 with an offset, or a wall-clock time in the store's time zone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, 12, 0)
    else:
        raw = text(value) or ""
        parsed = None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            for fmt in _FORMATS:
                try:
                    parsed = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError(f"not a date and time: {value}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed
