"""Membership rules (plugins.md "membership", seeds 000 and 002): plain functions on a session.

Every change to a member's points or spend happens under that member's row lock
(`SELECT … FOR UPDATE` on `membership_member`), so two tills selling to the same member at
once cannot lose an update, and a redemption cannot spend the same points twice anywhere in
the chain. Each entry made for an event carries a `source_key`, so a redelivered event adds
nothing.

The package is split by concern; its public names are re-exported here, so callers import
`plugins.membership.services` (or `from plugins.membership import services`) as before.
"""

from plugins.membership.services.common import (  # noqa: F401
    ZERO, CENT, SOURCE, cents_down, whole_points, local_date, birthday_in, is_birthday, in_birthday_week,
    expiry_for,
)
from plugins.membership.services.program import (  # noqa: F401
    DEFAULT_TIERS, get_program, seed_defaults, active_tiers, tier_for_spend, tier_for, reaches, rank, get_tier, save_tier,
    update_program, save_member_day, member_days_on,
)
from plugins.membership.services.members import (  # noqa: F401
    lock_member, find_member, counted_spend, tiers_and_counted_spend, tiers_and_counts, counted_purchases,
    member_qualifies_for, purchases_sql, change_tier, announce_changes_of, enrol, set_tier_lock,
)
from plugins.membership.services.ledger import (  # noqa: F401
    entry_exists, ledger_balance, program_today, live_lot, expired_unwritten, available_points, give_back_to_lots,
    lock_with_available, adjust_points, redeem_points, expire_points,
)
from plugins.membership.services.sales import (  # noqa: F401
    points_used, points_worth, paid_amount, sale_multiplier, applied, record_sale, SUMMARIES, sale_summary,
    check_points_cover_sale,
)
from plugins.membership.services.refunds import (  # noqa: F401
    record_refund,
)
from plugins.membership.services.quote import (  # noqa: F401
    quote, LABELS, birthday_discount_used, requested_points,
)
from plugins.membership.services.review import (  # noqa: F401
    review_due, yearly_review, recount_history,
)
from plugins.membership.services.reading import (  # noqa: F401
    member_view, export, erase, merge,
)
