"""Who may do what: one table read by the REST API (`endpoint(role=...)`) and the admin
(every admin view and action, through `ADMIN_ACTION_FOR` below), so a page never allows what
the API refuses, or the reverse. Roles rank staff < manager < owner; a till's token acts as
staff in its own store."""

from __future__ import annotations

ROLE_FOR = {
    "dashboard.view": "staff",
    "customers.view": "staff",            # find, read (masked), serve, note, visit, preferences
    "customers.unmask": "manager",        # see phone, email and address in clear (audited)
    "customers.import": "manager",
    "sales.view": "staff",
    "sales.enter": "staff",               # a sale typed in the admin, through the till's service
    "analytics.view": "manager",
    "products.change": "manager",
    "stores.create": "owner",
    "stores.change": "owner",
    "stores.sandbox.reset": "owner",      # delete a test store's data (core/services/sandbox.py)
    "users.change": "owner",
    "tokens.change": "owner",
    "deliveries.retry": "manager",
    "modules.view": "manager",            # see the store's modules and their settings
    "modules.toggle": "owner",            # switch a module on or off in a store
    "modules.settings.change": "owner",   # change a module's settings for a store
    "classification.settings.view": "manager",
    "classification.settings.change": "manager",
    "classification.recompute": "manager",
    "privacy.retention.change": "owner",
    "audit.read": "owner",
    # Export a customer list as shown (CSV/Excel): phones masked for roles that do not see
    # contact details, audited (issue 13).
    "customers.export": "staff",
    "webhooks.manage": "owner",           # subscribe URLs to events, pause and remove them (admin and API)
    "webhooks.replay": "owner",           # send a webhook delivery again
    "membership.rewards.catalogue": "owner",   # keep the rewards catalogue (积分兑换)
    "membership.rewards.redeem": "staff",      # exchange a member's points for a reward at the counter
    "membership.rewards.return": "manager",    # take a reward back: its points return to the member
    "membership.insight.view": "manager",      # member insight: charts and the members to recall
    "membership.gifts.plan": "owner",          # set each tier's yearly gift (专属礼品)
    "membership.gifts.view": "manager",        # the gifts issued and taken
    "membership.events.manage": "manager",     # plan a member event (会员品鉴会) and send its invitations
    "membership.events.register": "staff",     # register an invited member at the counter
    # plugins
    "membership.members.view": "staff",
    "membership.points.adjust": "manager",
    "membership.tiers.change": "owner",
    "membership.member_days.change": "owner",
    "inventory.view": "staff",            # stock, ledger, alerts; book a receipt; receive goods
    "inventory.adjust": "manager",        # an adjustment move with its reason
    "inventory.stock_settings.change": "manager",
    "inventory.orders.change": "manager",  # draft, send or cancel a purchase order
    "inventory.stocktakes.manage": "manager",  # open, post or cancel a count
    "inventory.transfers.send": "manager",
    "inventory.suppliers.change": "manager",
    "feedback.view": "staff",             # feedback, complaints (take, move), charts, QR code
    "campaigns.manage": "manager",        # segments, campaigns, coupons, messages, reports
    "campaigns.call_tasks.work": "staff",  # the call list and each call's outcome
    "staff_kpi.mine.view": "staff",
    "staff_kpi.team.view": "manager",     # every salesperson's report, leaderboard, commission
    "staff_kpi.targets.change": "manager",
}

# The admin: a view's endpoint names the action its pages need; "<endpoint>.<method>" names a
# stricter one for one exposed method, and "<endpoint>.<method> POST" for the form a page
# posts to itself. `tests/admin/test_role_table.py` walks every admin URL of the app (all
# bundled plugins on) and fails on an endpoint this table does not cover.
ADMIN_ACTION_FOR = {
    "admin": "dashboard.view",
    "customers": "customers.view",
    "customers.reveal": "customers.unmask",
    "customers.export_list": "customers.export",
    "customers.lookup": "customers.view",      # a full phone, a name, or the last four digits (max 10, audited)
    "imports": "customers.import",            # and its templates (headers only)
    "classification": "classification.settings.view",
    "classification.index POST": "classification.settings.change",
    "classification.recompute": "classification.recompute",
    "sales": "sales.view",
    "visits": "sales.view",
    "analytics": "analytics.view",
    "products": "products.change",
    "stores": "stores.change",
    "stores.reset_sandbox": "stores.sandbox.reset",
    "users": "users.change",
    "tokens": "tokens.change",
    "deliveries": "deliveries.retry",
    "audit": "audit.read",
    "modules": "modules.view",
    "modules.toggle": "modules.toggle",
    "modules.settings": "modules.settings.change",
    "membership_members": "membership.members.view",
    "membership_ledger": "membership.members.view",
    "membership_members.export_list": "customers.export",
    "membership_ledger.export_list": "customers.export",
    "membership_adjust": "membership.points.adjust",
    "membership_tiers": "membership.tiers.change",
    "membership_member_days": "membership.member_days.change",
    "inventory_stock": "inventory.view",
    "inventory_stock.order_suggestions": "inventory.orders.change",
    "inventory_product": "inventory.view",
    "inventory_product.card POST": "inventory.stock_settings.change",
    "inventory_orders": "inventory.view",
    "inventory_stocktakes": "inventory.view",
    "inventory_stocktakes.index POST": "inventory.stocktakes.manage",
    "inventory_transfers": "inventory.view",  # receiving is staff's; sending checks inventory.transfers.send
    "inventory_analysis": "inventory.view",
    "inventory_moves": "inventory.view",
    "inventory_alerts": "inventory.view",
    "inventory_suppliers": "inventory.suppliers.change",
    "feedback_complaints": "feedback.view",
    "feedback_entries": "feedback.view",
    "feedback_charts": "feedback.view",
    "feedback_qr": "feedback.view",
    "campaigns_segments": "campaigns.manage",
    "campaigns_segment_builder": "campaigns.manage",
    "campaigns_campaigns": "campaigns.manage",
    "campaigns_report": "campaigns.manage",
    "campaigns_coupon_batches": "campaigns.manage",
    "campaigns_coupons": "campaigns.manage",
    "campaigns_messages": "campaigns.manage",
    "campaigns_outbox": "campaigns.manage",
    "campaigns_call_tasks": "campaigns.call_tasks.work",
    "staff_kpi_mine": "staff_kpi.mine.view",
    "staff_kpi_report": "staff_kpi.team.view",
    "staff_kpi_leaderboard": "staff_kpi.team.view",
    "staff_kpi_targets": "staff_kpi.targets.change",
    "customer_tasks": "customers.view",        # 本月生日 and win-back lists
    "sales_entry": "sales.enter",              # a sale entered by hand, through the till's service
    "webhooks": "webhooks.manage",
    "webhooks.replay": "webhooks.replay",
    "membership_rewards": "membership.rewards.catalogue",
    "membership_redemptions": "membership.rewards.redeem",
    "membership_redemptions.give_back": "membership.rewards.return",
    "membership_gift_plans": "membership.gifts.plan",
    "membership_gifts": "membership.gifts.view",
    "membership_events": "membership.events.register",
    "membership_events.new": "membership.events.manage",
    "membership_events.invite": "membership.events.manage",
    "membership_insight": "membership.insight.view",
    "campaigns_composer": "campaigns.manage",
    "campaigns_coupon_composer": "campaigns.manage",
}


def role_for(action: str) -> str:
    return ROLE_FOR[action]


def may(user, action: str) -> bool:
    """Whether `user` (a User, or None for nobody) may do `action`."""
    return user is not None and user.at_least(ROLE_FOR[action])


def admin_action(endpoint: str, method: str | None = None, http_method: str | None = None) -> str | None:
    """The action an admin request needs: the most specific entry of `ADMIN_ACTION_FOR` for the
    view `endpoint`, its exposed `method` and the HTTP method; None for a view not in the table
    (a third-party plugin's, which then keeps its own `min_role`)."""
    keys = [endpoint]
    if method:
        keys[:0] = [f"{endpoint}.{method} {http_method}", f"{endpoint}.{method}"] if http_method else [f"{endpoint}.{method}"]
    for key in keys:
        if key in ADMIN_ACTION_FOR:
            return ADMIN_ACTION_FOR[key]
    return None


def admin_role(endpoint: str, method: str | None = None, http_method: str | None = None) -> str | None:
    action = admin_action(endpoint, method, http_method)
    return ROLE_FOR[action] if action else None
