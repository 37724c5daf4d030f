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

    @staticmethod
    def coupon(coupon) -> str:
        from flask_babel import get_locale

        from plugins.campaigns.services.coupons import label

        return label(coupon.batch, "zh" if str(get_locale() or "zh").startswith("zh") else "en")
