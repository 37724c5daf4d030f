"""The audit log as an owner reads it: each action and each kind of target labelled (zh_CN and
English). An action a third-party plugin writes, unknown here, reads "Other action"."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTIONS = {
    "backup": _l("Backup"), "restore": _l("Restore"), "classification_settings": _l("Classification thresholds changed"),
    "customer_linked": _l("Customer linked to a store"), "customer_merge": _l("Customers merged"),
    "delivery_retry": _l("Delivery retried"), "erase": _l("Customer erased"), "export": _l("Data exported"),
    "import": _l("Customers imported"), "login": _l("Signed in"), "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"), "membership_enrolled": _l("Member enrolled"),
    "membership_member_day_saved": _l("Member day saved"), "membership_points_adjusted": _l("Points adjusted"),
    "membership_program_changed": _l("Membership rules changed"), "membership_tier_lock": _l("Tier locked or unlocked"),
    "membership_tier_saved": _l("Tier saved"), "plugin_disable": _l("Module switched off"),
    "plugin_enable": _l("Module switched on"), "plugin_settings": _l("Module settings changed"),
    "privacy_request_close": _l("Privacy request closed"), "privacy_request_open": _l("Privacy request opened"),
    "retention_set": _l("Retention changed"), "role_change": _l("Role changed"),
    "staff_kpi_target_set": _l("Sales target set"), "store_create": _l("Store opened"), "store_update": _l("Store changed"),
    "sandbox_reset": _l("Test store reset"),
    "token_create": _l("API token issued"), "token_revoke": _l("API token revoked"), "unmask": _l("Contact details shown"),
    "user_create": _l("Staff account created"), "user_update": _l("Staff account changed"),
    "customer_lookup_last4": _l("Looked up by the last four digits"), "customers_exported": _l("Customer list exported"),
    "membership_reward_redeemed": _l("Reward exchanged for points"),
    "membership_reward_returned": _l("Reward returned"),
    "webhook_subscribe": _l("Webhook subscribed"), "webhook_change": _l("Webhook changed"),
    "webhook_delete": _l("Webhook deleted"), "webhook_replay": _l("Webhook delivery sent again"),
}
TARGETS = {
    "api_token": _l("API token"), "apitoken": _l("API token"), "customer": _l("Customer"),
    "customer_list": _l("Customer list"), "event_delivery": _l("Delivery"), "eventdelivery": _l("Delivery"),
    "membership_member_day": _l("Member day"), "membership_program": _l("Membership rules"),
    "membership_tier": _l("Tier"), "plugin": _l("Module"), "user": _l("Staff account"), "username": _l("Username"),
    "store": _l("Store"), "privacyrequest": _l("Privacy request"), "importrun": _l("Import"),
    "webhook_subscription": _l("Webhook"), "webhook_delivery": _l("Webhook delivery"),
}


def action_label(value) -> str:
    return str(ACTIONS.get(value, _l("Other action"))) if value else ""


def target_label(value) -> str:
    return str(TARGETS.get(value, _l("Other"))) if value else ""
