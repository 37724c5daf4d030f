"""The rule tables of domain.md "Customer classification", as data both the SQL and the
reasons read, with the labels people see (English and zh_CN)."""

from __future__ import annotations

AMOUNT_CLASSES = ("high", "medium", "low")
FREQUENCY_CLASSES = ("frequent", "occasional", "rare")
FINAL_CLASSES = ("key", "loyal", "potential", "regular", "occasional", "prospect")
LIFECYCLES = ("prospect", "new", "active", "at_risk", "churned")

# (frequency, amount is high) -> final class (seed 004's 最终分类 table).
FINAL_TABLE = {
    ("frequent", True): "key",
    ("frequent", False): "loyal",
    ("occasional", True): "potential",
    ("occasional", False): "regular",
    ("rare", True): "potential",
    ("rare", False): "occasional",
}

# Checked in order, first match wins; (R, F, M) inclusive ranges.
RFM_SEGMENTS = (
    ("champions", (5, 5), (5, 5), (5, 5)),
    ("potential_loyalist", (3, 5), (3, 5), (2, 5)),
    ("loyal", (2, 4), (2, 4), (2, 4)),
    ("promising", (3, 4), (1, 3), (3, 5)),
    ("new", (4, 5), (1, 3), (1, 5)),
    ("cant_lose_them", (1, 2), (3, 4), (4, 5)),
    ("at_risk", (1, 2), (2, 5), (4, 5)),
    ("need_attention", (1, 3), (3, 5), (3, 5)),
    ("about_to_sleep", (2, 3), (1, 3), (1, 4)),
    ("lost", (1, 1), (1, 5), (1, 5)),
)
RFM_SEGMENT_NAMES = tuple(s[0] for s in RFM_SEGMENTS) + ("others", "prospects")

LABELS = {
    "en": {
        "high": "high spend", "medium": "medium spend", "low": "low spend",
        "frequent": "frequent", "occasional": "occasional", "rare": "rare",
        "final.key": "key customer", "final.loyal": "loyal customer", "final.potential": "potential customer",
        "final.regular": "regular customer", "final.occasional": "occasional customer", "final.prospect": "prospect",
        "life.prospect": "prospect", "life.new": "new", "life.active": "active", "life.at_risk": "at-risk",
        "life.churned": "churned",
    },
    "zh": {
        "high": "高消费", "medium": "中消费", "low": "低消费",
        "frequent": "频繁", "occasional": "偶尔", "rare": "很少",
        "final.key": "大客户", "final.loyal": "忠实客户", "final.potential": "潜力客户",
        "final.regular": "普通客户", "final.occasional": "偶尔客户", "final.prospect": "潜在客户",
        "life.prospect": "潜在客户", "life.new": "新客户", "life.active": "活跃客户", "life.at_risk": "流失风险",
        "life.churned": "已流失",
    },
}
SEGMENT_LABELS = {
    "champions": ("champions", "冠军客户"), "potential_loyalist": ("potential loyalist", "潜在忠诚客户"),
    "loyal": ("loyal", "忠诚客户"), "promising": ("promising", "有前途客户"), "new": ("new", "新客户"),
    "cant_lose_them": ("can't lose them", "不能失去的客户"), "at_risk": ("at risk", "风险客户"),
    "need_attention": ("need attention", "需要关注"), "about_to_sleep": ("about to sleep", "即将沉睡"),
    "lost": ("lost", "已流失"), "others": ("others", "其他"), "prospects": ("prospects", "潜在客户"),
}


def label(key: str, lang: str = "en") -> str:
    return LABELS["zh" if lang.startswith("zh") else "en"].get(key, key)


def final_label(value: str, lang: str = "en") -> str:
    return label(f"final.{value}", lang)


def lifecycle_label(value: str, lang: str = "en") -> str:
    return label(f"life.{value}", lang)


def change_title(field: str, value: str) -> str:
    """The timeline line for a class change: "became at-risk", "became key customer"."""
    if field == "lifecycle":
        return "churned" if value == "churned" else f"became {lifecycle_label(value)}"
    return f"became {final_label(value)}"


def change_title_zh(field: str, value: str) -> str:
    return f"变为{lifecycle_label(value, 'zh') if field == 'lifecycle' else final_label(value, 'zh')}"
