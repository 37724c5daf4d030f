"""Coupons at the till: the quote offers the discount, the sale re-checks it with the coupon row
locked; a used, expired, foreign, unknown or under-minimum code, or a forged amount, is a 422
naming the code; a refund gives it back per the store's setting; partner stores redeem joint
coupons; the per-customer limit holds across codes of one batch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.extensions import db
from core.models import utcnow
from tests.conftest import enable

LINES = [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}]  # 56.00


def _batch(shop, **body):
    data = {"name": "券", "kind": "amount", "value": "10.00", "valid_days": 30, "codes": 3, **body}
    return shop.post("/campaigns/coupons", data, expect=201).json


def _quote(shop, cid, code, token=None, lines=LINES):
    return shop.api.post("/sales/quote", {"customer": {"id": cid}, "lines": lines, "options": {"coupon": code}},
                         token=token or shop.chain.till)


def _sale(shop, cid, code, amount, token=None, lines=LINES, external=None):
    shop._n += 1
    # The till asks for the coupon through `options` and posts the adjustment it was quoted: the
    # server computes it again and refuses a figure that differs (api.md).
    body = {"external_id": external or f"c-{shop._n}", "customer": {"id": cid}, "lines": lines,
            "options": {"coupon": code},
            "adjustments": [{"source": "campaigns", "code": "coupon", "label": "券", "amount": amount,
                             "data": {"coupon": code}}]}
    return shop.api.post("/sales", body, token=token or shop.chain.till)


def _error(response):
    """The message, or for a price the server computed differently, what it says per adjustment."""
    error = response.json["error"]
    if error.get("fields", {}).get("adjustments.0"):
        return " ".join(error["fields"]["adjustments.0"])
    return error["message"]


def test_an_amount_coupon_is_used_once_and_a_second_use_is_refused_naming_it(shop):
    cid = shop.customer("用券")
    code = _batch(shop)["codes"][0]
    q = _quote(shop, cid, code.lower())  # typed in lower case at the till
    assert q.status_code == 200
    assert [(a["source"], a["amount"]) for a in q.json["adjustments"]] == [("campaigns", "-10.00")]
    assert q.json["total"] == "46.00"
    r = _sale(shop, cid, code, "-10.00")
    assert r.status_code == 201 and r.json["total"] == "46.00"
    assert r.json["effects"]["campaigns"] == {"coupons": [{"code": code, "discount": "10.00"}]}
    again = _sale(shop, cid, code, "-10.00")
    assert again.status_code == 422 and f"coupon {code}: already used" == _error(again)
    assert _quote(shop, cid, code).status_code == 422


def test_min_spend_validity_store_and_forged_amounts_are_422s(shop, chain):
    cid = shop.customer("规则")
    percent = _batch(shop, kind="percent", value="15.00", min_spend="50.00")["codes"][0]
    q = _quote(shop, cid, percent)
    assert q.json["adjustments"][0]["amount"] == "-8.40"  # 15% of 56.00, cents down
    small = _quote(shop, cid, percent, lines=[{"sku": "LATTE-M", "quantity": 1, "unit_price": "28.00"}])
    assert small.status_code == 422 and "needs a spend of at least ¥50.00" in _error(small) and percent in _error(small)
    forged = _sale(shop, cid, percent, "-20.00")
    assert forged.status_code == 422 and "it gives campaigns/coupon -8.40" in _error(forged)
    unknown = _quote(shop, cid, "NOSUCHCODE")
    assert unknown.status_code == 422 and _error(unknown) == "coupon NOSUCHCODE: unknown code"

    expired = _batch(shop)["codes"][0]
    from plugins.campaigns.models import Coupon

    with shop.app.app_context():
        row = db.session.scalars(select(Coupon).where(Coupon.code == expired)).one()
        row.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    r = _sale(shop, cid, expired, "-10.00")
    assert r.status_code == 422 and "expired on" in _error(r) and expired in _error(r)

    enable(shop.app, "BJ001", "campaigns")
    # The customer presents their phone at BJ001's counter: served there, the till sees them.
    phone = shop.api.get(f"/customers/{cid}", token=chain.owner_token).json["phone"]
    served = shop.api.post("/customers/serve-here", {"phone": phone}, token=chain.till_bj)
    assert served.status_code in (200, 201), served.json
    elsewhere = _batch(shop)["codes"][0]
    r = _quote(shop, cid, elsewhere, token=chain.till_bj)
    assert r.status_code == 422 and _error(r) == f"coupon {elsewhere}: not valid in this store"
    joint = _batch(shop, partner_stores=["BJ001"], partner_name="北京伙伴")["codes"][0]
    r = _sale(shop, cid, joint, "-10.00", token=chain.till_bj)
    assert r.status_code == 201  # a partner store redeems the joint campaign's coupon


def test_the_per_customer_limit_holds_across_codes_of_one_batch(shop):
    cid = shop.customer("限用")
    first, second, _third = _batch(shop, per_customer_limit=1)["codes"]
    assert _sale(shop, cid, first, "-10.00").status_code == 201
    r = _sale(shop, cid, second, "-10.00")
    assert r.status_code == 422 and "limit of 1 per customer reached" in _error(r)


def test_a_full_refund_gives_the_coupon_back_unless_the_store_says_not(shop):
    cid = shop.customer("退款")
    codes = _batch(shop, per_customer_limit=5)["codes"]
    sale = _sale(shop, cid, codes[0], "-10.00").json
    shop.api.post(f"/sales/{sale['id']}/refunds", {"reason": "changed mind"}, token=shop.chain.till)
    assert _sale(shop, cid, codes[0], "-10.00").status_code == 201  # restored, used again

    shop.settings(refund_restores_coupon=False)
    sale = _sale(shop, cid, codes[1], "-10.00").json
    shop.api.post(f"/sales/{sale['id']}/refunds", {"reason": "changed mind"}, token=shop.chain.till)
    r = _sale(shop, cid, codes[1], "-10.00")
    assert r.status_code == 422 and "already used" in _error(r)


def test_a_gift_coupon_changes_no_amount_and_is_marked_used(shop):
    cid = shop.customer("赠品")
    code = _batch(shop, kind="gift", value="0.00", gift="马克杯")["codes"][0]
    q = _quote(shop, cid, code)
    assert q.json["adjustments"][0]["amount"] == "0.00" and "马克杯" in q.json["adjustments"][0]["label"]
    assert _sale(shop, cid, code, "0.00").status_code == 201
    assert _quote(shop, cid, code).status_code == 422
