"""Every state, kind and channel as a person reads it (zh_CN and English): nothing raw on screen."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {"draft": _l("Draft"), "sending": _l("Sending"), "waiting": _l("Waiting for morning or schedule"),
          "sent": _l("Sent"), "budget_spent": _l("Stopped: budget spent"), "cancelled": _l("Cancelled")}
KIND = {"holiday": _l("Holiday"), "anniversary": _l("Store anniversary"), "theme": _l("Theme"),
        "joint": _l("Joint with partner")}
CHANNEL = {"email": _l("Email"), "outbox": _l("Outbox (send by hand)"), "sms": _l("SMS"), "wechat": _l("WeChat")}
PURPOSE = {"marketing": _l("Marketing"), "care": _l("Care (asked for)"), "transactional": _l("Service notice")}
MESSAGE_STATUS = {"queued": _l("Queued"), "claimed": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
                  "uncertain": _l("Maybe sent (worker stopped)"), "skipped": _l("Not sent")}
COUPON_KIND = {"amount": _l("Amount off"), "percent": _l("Percent off"), "gift": _l("Gift")}
COUPON_STATUS = {"issued": _l("Unused"), "used": _l("Used"), "void": _l("Withdrawn")}
OUTCOME = {"reached": _l("Reached"), "no_answer": _l("No answer"), "declined": _l("Declined"),
           "wrong_number": _l("Wrong number")}
RULE = {"first_purchase": _l("3 days after first purchase"), "purchase_week": _l("A week after a purchase"),
        "quarterly": _l("Quarterly follow-up")}

# Topics of messages and outbox entries: campaigns' own and the notices other bundled plugins
# send through `customer_notification` / `staff_notification`. An unknown topic (a third-party
# plugin's) reads as "Notice", never as its code.
TOPIC = {"campaign": _l("Campaign"), "care": _l("Care message"),
         "membership.welcome": _l("Welcome to the membership"), "membership.upgrade": _l("Tier upgrade"),
         "membership.downgrade": _l("Tier change"),
         "feedback.complaint_acknowledged": _l("Complaint received"), "feedback.sla_breach": _l("Complaint overdue"),
         "feedback.survey": _l("Satisfaction survey"), "feedback.survey_after_sale": _l("Satisfaction survey"),
         "feedback.survey_after_complaint": _l("Survey after a complaint"),
         "inventory.below_safety": _l("Stock below safety level")}


def topic_label(value) -> str:
    if not value:
        return ""
    if value in TOPIC:
        return str(TOPIC[value])
    for prefix, label in (("birthday", _l("Birthday greeting")), ("festival", _l("Festival greeting")),
                          ("winback", _l("Win-back")), ("referral", _l("Referral reward")),
                          ("followup", _l("Follow-up")), ("second_visit", _l("Second-visit coupon"))):
        if prefix in value:
            return str(label)
    return str(_l("Notice"))


def _get(table):
    return lambda value: str(table.get(value, value)) if value is not None else ""


class Labels:
    status = staticmethod(_get(STATUS))
    kind = staticmethod(_get(KIND))
    channel = staticmethod(_get(CHANNEL))
    purpose = staticmethod(_get(PURPOSE))
    message_status = staticmethod(_get(MESSAGE_STATUS))
    coupon_kind = staticmethod(_get(COUPON_KIND))
    coupon_status = staticmethod(_get(COUPON_STATUS))
    outcome = staticmethod(_get(OUTCOME))
    rule = staticmethod(_get(RULE))
    topic = staticmethod(topic_label)

    @staticmethod
    def coupon(coupon) -> str:
        from flask_babel import get_locale

        from plugins.campaigns.services.coupons import label

        return label(coupon.batch, "zh" if str(get_locale() or "zh").startswith("zh") else "en")


FILTER_NAMES = {"tags": _l("Tags"), "interests": _l("Interests"), "last_purchase_days_min": _l("No purchase for at least (days)"),
                "last_purchase_days_max": _l("Bought within (days)"), "birth_month": _l("Birthday month"),
                "store": _l("Store"), "stores": _l("Stores"), "plugins": _l("Other modules' filters")}


def describe_filters(filters) -> str:
    """A segment's filters as a sentence a manager reads: "最终分类：忠实客户、大客户；生命周期：流失风险"."""
    from flask_babel import get_locale

    from core.classification.filters import _FILTER_NAMES, FILTERS

    if not isinstance(filters, dict) or not filters:
        return str(_l("Everyone"))
    lang = str(get_locale() or "en")
    zh = lang.startswith("zh")
    parts = []
    for key, value in filters.items():
        values = value if isinstance(value, list) else [value]
        if key in FILTERS:
            name = _FILTER_NAMES[key]
            labeller = FILTERS[key].labeller
            shown = [labeller(str(v), lang) for v in values]
        elif key == "plugins" and isinstance(value, dict):
            name, shown = FILTER_NAMES[key], [str(len(value))]
        else:
            name = FILTER_NAMES.get(key, _l("Other"))
            shown = [str(v) for v in values]
        parts.append(f"{name}{'：' if zh else ': '}{('、' if zh else ', ').join(shown)}")
    return ("；" if zh else "; ").join(parts)
