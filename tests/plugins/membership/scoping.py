"""Membership's rewards catalogue in the cross-store matrix (tests/security/scoping_records.py);
its older routes are registered there."""

from tests.security.scoping_records import CHAIN_PARAMS, Env, admin_form, admin_model, body, chain_param, post, record


def _reward(env: Env) -> int:
    """A reward of the chain's catalogue (the owner keeps it), cheap enough for any member."""
    return env.value(CHAIN_PARAMS, "reward_id")


def _bj_redemption(env: Env) -> int:
    """BJ001's member exchanged points for a reward at BJ001's counter."""
    from tests.security.scoping_records import _bj_member

    customer_id = _bj_member(env)
    r = env.api.post(f"/membership/members/{customer_id}/reward-redemptions", {"reward_id": _reward(env)},
                     token=env.chain.till_bj)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["id"]


chain_param("reward_id", post("/membership/rewards", {"name": "帆布袋", "points": 1, "store": "BJ001"},
                              token="owner_token"))
record("redemption_id", _bj_redemption)
# the reward is chain-wide: acting in BJ001 is what SH001 callers are refused
body("POST", "api_membership.redeem_reward", lambda env: {"reward_id": _reward(env), "quantity": 1, "store": "BJ001"})
admin_model("Reward", None)  # the catalogue is chain-wide, the owner's
admin_form("membership_redemptions.redeem", lambda env: {"customer_id": str(env.bj.customer_id),
                                                         "reward_id": str(_reward(env)), "quantity": "1"})
admin_form("membership_redemptions.give_back", {"reason": "matrix"})
admin_model("GiftPlan", None)  # a tier's gift: the chain's program, the owner's


def _bj_gift(env: Env) -> int:
    """A yearly gift of BJ001's customer."""
    from datetime import date
    from decimal import Decimal

    from tests.security.scoping_records import bj_customer, row

    return row("plugins.membership.gifts.models.Gift", customer_id=bj_customer, year=2026, name="礼盒",
               value=Decimal("10.00"), state="issued", expires_on=date(2026, 12, 31))(env)


admin_model("Gift", _bj_gift)


def _event(env: Env) -> int:
    """A member event: the chain's members are invited wherever it is held (chain-wide)."""
    return env.value(CHAIN_PARAMS, "event_id")


chain_param("event_id", post("/membership/events", {
    "store": "BJ001", "name": "品鉴会", "capacity": 5, "lowest_tier": "ordinary",
    "starts_at": "2099-01-10T10:00:00+08:00", "registration_opens_at": "2026-01-01T10:00:00+08:00"}, token="owner_token"))
body("POST", "api_membership.register", {"customer_id": "{customer_id}", "store": "SH001"})
admin_form("membership_events.register", lambda env: {"customer_id": str(env.bj.customer_id),
                                                      "event_id": str(_event(env))})
