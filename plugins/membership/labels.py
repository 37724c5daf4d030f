"""Ledger kinds and the reasons the program itself writes, as a person reads them (zh_CN and
English). A reason a manager typed by hand is shown as typed."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# Seed 000's perks; a tier may carry any other code, shown as it is.
PERKS = {"event_priority": _l("Priority for events"), "exclusive_gift": _l("Exclusive gift"),
         "priority_service": _l("Priority service")}
KIND = {"earn": _l("Earned"), "redeem": _l("Used as payment"), "reverse": _l("Taken back (refund)"),
        "restore": _l("Given back (refund)"), "adjust": _l("Adjusted by hand"), "expire": _l("Expired")}
REASON = {"sale": _l("Purchase"), "points used as payment": _l("Points used as payment"), "refund": _l("Refund"),
          "points paid for refunded goods": _l("Points paid for refunded goods"),
          "refund: spend below the threshold": _l("Refund: spend below the threshold"),
          "enrolled by hand": _l("Enrolled by hand"), "set by a manager": _l("Set by a manager"),
          "purchase history counted": _l("Purchase history counted"), "expired": _l("Expired"), "gift": _l("Gift"),
          "returned": _l("Returned")}
KINDS, REASONS = KIND, REASON


def kind_label(value) -> str:
    return str(KIND.get(value, value or ""))


def reason_label(value) -> str:
    """The program's reasons translated, with their figures ("spend reached ¥5000.00")."""
    if not value:
        return ""
    if value in REASON:
        return str(REASON[value])
    spend = re.fullmatch(r"spend reached (¥[\d.,]+)", value)
    if spend:
        return _("Spend reached %(amount)s", amount=spend.group(1))
    purchases = re.fullmatch(r"purchases reached (\d+)", value)
    if purchases:
        return _("Purchases reached %(count)s", count=purchases.group(1))
    review = re.fullmatch(r"yearly review (\d{4})", value)
    if review:
        return _("Yearly review %(year)s", year=review.group(1))
    return value


def timeline_text(session, activities) -> dict[int, dict]:
    """Membership's timeline entries as a person reads them (the `timeline_text` hook): a tier
    change says where the member went, under the tier's current name, and why."""
    changes = [act for act in activities if act.kind == "tier_change"]
    if not changes:
        return {}
    from sqlalchemy import select

    from plugins.membership.models import Tier

    names = dict(session.execute(select(Tier.code, Tier.name)).all())
    texts = {}
    for act in changes:
        text = tier_change_text(act.data or {}, names)
        if text is not None:
            texts[act.id] = text
    return texts


def tier_change_text(change: dict, names: dict[str, str]) -> dict | None:
    """"Upgraded to Gold member", with the reason as its body; None for a tier no longer known
    (the stored title says it)."""
    to = change.get("to")
    if to is not None and to not in names:
        return None
    if to is None:
        title = _("No longer a member")
    elif change.get("from") is None:
        title = _("Became %(tier)s", tier=names[to])
    elif change.get("direction") == "downgrade":
        title = _("Downgraded to %(tier)s", tier=names[to])
    else:
        title = _("Upgraded to %(tier)s", tier=names[to])
    return {"title": title, "body": reason_label(change.get("reason")) or None}
