"""Coupons: batches (amount off, percent off, gift; minimum spend; validity window or days from
issue; per-customer limit; partner stores for joint campaigns) and unique codes, redeemed at the
till: `quote` offers the discount from `cart["options"]["coupon"]`, `check_sale` re-checks it
with the coupon row locked (a used, expired, foreign or unknown code is a 422 naming it), and
`record_use` ties it to the sale in the sale's transaction. A refund gives it back when the
store's `refund_restores_coupon` says so."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select, update

from core.errors import Unprocessable
from core.models import Store, money, utcnow
from plugins.campaigns.models import Coupon, CouponBatch, Redemption

SOURCE = "campaigns"
CODE = "coupon"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a till
ZERO = Decimal("0.00")
KIND_LABELS = {"amount": ("¥{value} off", "立减¥{value}"), "percent": ("{value}% off", "{value}%折扣"),
               "gift": ("Gift: {gift}", "赠品：{gift}")}


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(10))


def label(batch: CouponBatch, lang: str = "zh") -> str:
    en, zh = KIND_LABELS[batch.kind]
    value = batch.value.normalize() if batch.kind == "percent" else batch.value
    text = (zh if lang == "zh" else en).format(value=value, gift=batch.gift or "")
    if batch.min_spend and batch.min_spend > 0:
        text += f"（满¥{batch.min_spend}可用）" if lang == "zh" else f" (min. spend ¥{batch.min_spend})"
    return text


def create_batch(session, store: Store, data: dict) -> CouponBatch:
    partners = []
    if data.get("partner_stores"):
        partners = list(session.scalars(select(Store.id).where(Store.code.in_(data["partner_stores"]))))
        if len(partners) != len(set(data["partner_stores"])):
            from core.errors import InvalidInput

            raise InvalidInput("unknown partner store", fields={"partner_stores": ["Every code must name a store."]})
    batch = CouponBatch(store_id=store.id, name=data["name"], kind=data["kind"], value=money(data.get("value") or 0),
                        gift=data.get("gift"), min_spend=money(data.get("min_spend") or 0),
                        valid_from=data.get("valid_from"), valid_until=data.get("valid_until"),
                        valid_days=data.get("valid_days"), per_customer_limit=data.get("per_customer_limit") or 1,
                        partner_store_ids=partners, partner_name=data.get("partner_name"), reason=data.get("reason"))
    session.add(batch)
    session.flush()
    if data.get("codes"):
        issue_codes(session, batch, [None] * data["codes"])
    return batch


def _expiry(batch: CouponBatch, now):
    if batch.valid_days:
        by_days = now + timedelta(days=batch.valid_days)
        return min(by_days, batch.valid_until) if batch.valid_until else by_days
    return batch.valid_until


def issue_codes(session, batch: CouponBatch, customer_ids: list, campaign_id: int | None = None) -> list[Coupon]:
    """One unique code per entry of `customer_ids` (None = a code for anyone), in one insert;
    a collision (1 in 32^10 per pair) is retried with fresh codes."""
    now = utcnow()
    expires = _expiry(batch, now)
    while True:
        codes = {new_code() for _ in customer_ids}
        if len(codes) == len(customer_ids) and not session.scalar(
                select(func.count()).select_from(Coupon).where(Coupon.code.in_(codes))):
            break
    rows = [Coupon(code=code, batch_id=batch.id, customer_id=cid, campaign_id=campaign_id, expires_at=expires, issued_at=now)
            for code, cid in zip(sorted(codes), customer_ids)]
    session.add_all(rows)
    session.flush()
    return rows


def issue_for(session, store: Store, customer, spec: dict) -> dict:
    """`issue_coupon`: one personal coupon from a spec {kind, value, valid_days, reason, min_spend?}."""
    batch = create_batch(session, store, {"name": spec.get("reason") or "coupon", "kind": spec["kind"],
                                          "value": spec.get("value"), "gift": spec.get("gift"),
                                          "min_spend": spec.get("min_spend") or 0,
                                          "valid_days": int(spec.get("valid_days") or 30), "reason": spec.get("reason")})
    coupon = issue_codes(session, batch, [customer.id])[0]
    return {"code": coupon.code, "label": label(batch),
            "expires_on": coupon.expires_at.date().isoformat() if coupon.expires_at else None}


# --- at the till ----------------------------------------------------------------------------------

def _find(session, code: str, lock: bool):
    stmt = select(Coupon).where(Coupon.code == code.strip().upper())
    if lock:
        stmt = stmt.with_for_update(of=Coupon)
    return session.scalars(stmt).first()


def _refuse(code: str, why: str, field: str = "options.coupon"):
    raise Unprocessable(f"coupon {code}: {why}", fields={field: [f"Coupon {code}: {why}"]}, details={"coupon": code})


def _check(session, coupon: Coupon | None, code: str, store: Store, customer, subtotal: Decimal, now, field: str,
           sale_id: int | None = None) -> None:
    if coupon is None:
        _refuse(code, "unknown code", field)
    batch = coupon.batch
    if coupon.status == "used" and (sale_id is None or coupon.used_sale_id != sale_id):
        _refuse(code, "already used", field)
    if coupon.status == "void":
        _refuse(code, "withdrawn", field)
    if store.id != batch.store_id and store.id not in (batch.partner_store_ids or []):
        _refuse(code, "not valid in this store", field)
    if coupon.customer_id is not None and (customer is None or customer.id != coupon.customer_id):
        _refuse(code, "issued to another customer", field)
    if batch.valid_from and now < batch.valid_from:
        _refuse(code, f"valid from {batch.valid_from.date().isoformat()}", field)
    if coupon.expires_at and now >= coupon.expires_at:
        _refuse(code, f"expired on {coupon.expires_at.date().isoformat()}", field)
    if subtotal < batch.min_spend:
        _refuse(code, f"needs a spend of at least ¥{batch.min_spend}", field)
    # A personal code is used at most once at a time (the status above); shared codes of a
    # batch are counted per customer.
    if coupon.customer_id is None and customer is not None and customer.id is not None:
        used = session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.batch_id == batch.id, Redemption.customer_id == customer.id, Redemption.restored_at.is_(None)))
        if used >= batch.per_customer_limit:
            _refuse(code, f"limit of {batch.per_customer_limit} per customer reached", field)


def discount_for(batch: CouponBatch, subtotal: Decimal) -> Decimal:
    if batch.kind == "amount":
        return min(batch.value, subtotal)
    if batch.kind == "percent":
        return (subtotal * batch.value / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return ZERO  # a gift changes no amount; the till hands it over


def quote(session, store: Store, cart: dict, customer, now=None) -> list[dict]:
    """The coupon adjustment for `cart["options"]["coupon"]`: deterministic for the same cart,
    customer and options (the core recomputes it at sale time)."""
    code = (cart.get("options") or {}).get("coupon")
    if not code:
        return []
    code = str(code).strip().upper()
    coupon = _find(session, code, lock=False)
    subtotal = money(cart["subtotal"])
    _check(session, coupon, code, store, customer, subtotal, now or utcnow(), "options.coupon")
    batch = coupon.batch
    return [{"source": SOURCE, "code": CODE, "label": f"{label(batch, 'zh')} / {label(batch, 'en')}",
             "amount": -discount_for(batch, subtotal), "data": {"coupon": code, "kind": batch.kind,
                                                                  "gift": batch.gift}}]


def coupon_adjustments(sale) -> list:
    return [a for a in sale.adjustments if a.source == SOURCE and a.code == CODE]


def check_sale(session, store: Store, sale, customer, now=None) -> None:
    """`sale_validate`: the coupon the till applied exists, is this customer's (or anyone's),
    valid here and now, unused (row locked until the sale commits), and gives exactly the
    discount the quote gives."""
    adjustments = coupon_adjustments(sale)
    if not adjustments:
        return  # the common sale: not one statement more
    if len(adjustments) > 1:
        raise Unprocessable("one coupon per sale", fields={"adjustments": ["Only one coupon may be used per sale."]})
    adj = adjustments[0]
    code = str((adj.data or {}).get("coupon") or "").strip().upper()
    if not code:
        raise Unprocessable("coupon adjustment without a code", fields={"adjustments": ["Name the coupon in data.coupon."]})
    coupon = _find(session, code, lock=True)
    _check(session, coupon, code, store, customer, sale.subtotal, now or utcnow(), "adjustments")
    session.info.setdefault("campaigns.checked_coupons", {})[code] = coupon  # sale_recorded reuses the locked row
    expected = -discount_for(coupon.batch, sale.subtotal)
    if adj.amount != expected:
        raise Unprocessable(f"coupon {code} gives {expected}, not {adj.amount}",
                            fields={"adjustments": [f"Coupon {code} gives {expected}; the sale says {adj.amount}."]})


def record_use(session, sale) -> None:
    """In the sale's transaction: the coupon is used by this sale (idempotent per sale)."""
    adjustments = coupon_adjustments(sale)
    if not adjustments:
        return
    for adj in adjustments:
        code = str((adj.data or {}).get("coupon") or "").strip().upper()
        coupon = session.info.get("campaigns.checked_coupons", {}).pop(code, None) or _find(session, code, lock=False)
        if coupon is None or coupon.used_sale_id == sale.id:
            continue  # unknown, or this sale's use was already recorded (a redelivery)
        coupon.status = "used"
        coupon.used_sale_id = sale.id
        session.add(Redemption(coupon_id=coupon.id, batch_id=coupon.batch_id, sale_id=sale.id, customer_id=sale.customer_id,
                               store_id=sale.store_id, campaign_id=coupon.campaign_id, discount=-adj.amount,
                               at=sale.occurred_at or utcnow()))
    session.flush()


def restore_on_refund(session, sale, refund, settings: dict) -> None:
    """A full refund of a sale that used a coupon gives the coupon back when the store says so
    (and it has not expired); a partial refund keeps it used."""
    if not settings.get("refund_restores_coupon", True) or sale.refunded_total < sale.total:
        return
    rows = session.scalars(select(Redemption).where(Redemption.sale_id == sale.id, Redemption.restored_at.is_(None))).all()
    for row in rows:
        row.restored_at = utcnow()
        session.execute(update(Coupon).where(Coupon.id == row.coupon_id, Coupon.used_sale_id == sale.id)
                        .values(status="issued", used_sale_id=None))
    session.flush()


def sale_summary(session, sale) -> dict | None:
    """`sale_result`: the coupon this sale used, for the till's receipt (no query for a sale
    without one: its adjustments are loaded with it)."""
    if not coupon_adjustments(sale):
        return None
    rows = session.execute(select(Coupon.code, Redemption.discount).join(Coupon, Coupon.id == Redemption.coupon_id)
                           .where(Redemption.sale_id == sale.id, Redemption.restored_at.is_(None))).all()
    if not rows:
        return None
    return {"coupons": [{"code": code, "discount": str(discount)} for code, discount in rows]}
