"""The server decides every amount (api.md): a cart's adjustments come from the enabled plugins'
`sale_quote`, for `POST /sales/quote` and again inside the sale's own transaction, where a
till's posted adjustments are written only when they equal what the plugins compute."""

from __future__ import annotations

import json
import logging
from collections import Counter
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError

from core.errors import DomainError, Unprocessable
from core.models import money
from core.models.user import ROLE_RANK
from core.plugins import HookContext

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")


def cart_line(product, quantity: Decimal, unit_price: Decimal, discount: Decimal) -> dict:
    """One line of the cart that `sale_quote` reads (the quote and the sale build it alike)."""
    return {"sku": product.sku, "name": product.name, "category": product.category, "quantity": quantity,
            "unit_price": unit_price, "discount": discount, "amount": money(quantity * unit_price) - discount,
            "full_price": discount == 0 and unit_price >= product.price}


def quote_adjustments(session, store, registry, cart: dict, customer, *, user=None, actor="system",
                      recover=None) -> tuple[list[dict], list[str]]:
    """(adjustments, plugins whose quote failed) from the plugins enabled in `store`.

    A DomainError is the plugins' answer (e.g. more points than the balance) and propagates.
    Another exception leaves that plugin out, named in the second list, so a broken plugin
    never blocks the till. A database error may have aborted the transaction: `recover` (the
    quote's rollback) lets it count as a failure; without it (inside a sale) it propagates."""
    ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=registry)
    adjustments: list[dict] = []
    unavailable: list[str] = []
    for name in registry.implementers("sale_quote", registry.enabled_in(store)):
        try:
            for answer in registry.caller_for("sale_quote", name)(cart=cart, customer=customer, ctx=ctx.for_plugin(name)):
                adjustments.extend(answer or [])
        except DomainError:
            raise
        except SQLAlchemyError:
            if recover is None:
                raise
            log.exception("sale_quote of %s failed", name)
            recover()
            unavailable.append(name)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("sale_quote of %s failed", name)
            unavailable.append(name)
    return adjustments, unavailable


def _key(adjustment: dict) -> tuple[str, str, Decimal]:
    return str(adjustment["source"]), str(adjustment["code"]), money(adjustment["amount"])


def _shown(key: tuple[str, str, Decimal]) -> str:
    return f"{key[0]}/{key[1]} {key[2]}"


def decide_adjustments(session, store, registry, cart: dict, customer, posted: list[dict] | None, *,
                       user=None, actor="system") -> list[dict]:
    """The adjustments a sale gets: what the enabled plugins compute for its cart, customer and
    `cart["options"]`, now, in the sale's transaction (plugins lock what they read). When the
    till posted adjustments they must be exactly those (as source, code and amount); otherwise
    422 naming each one that differs, and nothing is written. The computed ones are kept,
    with the plugin's own label and data: a till's `data` is never trusted."""
    enabled = registry.enabled_in(store)
    errors: dict[str, list[str]] = {}
    for i, adj in enumerate(posted or []):
        if adj["source"] not in enabled:
            errors[f"adjustments.{i}.source"] = [
                f"{adj['source']} is not a module enabled in store {store.code}: it cannot adjust this sale."]
    if errors:
        raise Unprocessable("adjustments from a source that is not enabled", fields=errors)
    computed, unavailable = quote_adjustments(session, store, registry, cart, customer, user=user, actor=actor)
    # Stored as JSON: a plugin's Decimals in `data` are kept as their text.
    computed = [{**a, "amount": money(a["amount"]), "data": json.loads(json.dumps(a.get("data") or {}, default=str))}
                for a in computed]
    if posted is None:
        return computed
    due = Counter(_key(a) for a in computed)
    named = set()  # (source, code) of differing posted ones: their message names what is due
    for i, adj in enumerate(posted):
        key = _key(adj)
        if due[key] > 0:
            due[key] -= 1
            continue
        named.add(key[:2])
        if adj["source"] in unavailable:
            errors[f"adjustments.{i}"] = [f"{adj['source']} could not price this sale now; ask for a new quote."]
        else:
            offered = [_shown(_key(a)) for a in computed if a["source"] == adj["source"] and a["code"] == adj["code"]]
            errors[f"adjustments.{i}"] = [
                f"{_shown(key)} is not what {adj['source']} gives this sale"
                + (f": it gives {', '.join(offered)}." if offered else ": it gives nothing of the kind.")]
    missing = [_shown(k) for k, n in due.items() for _ in range(n) if k[:2] not in named]
    if missing:
        errors["adjustments"] = [f"Due but not posted: {', '.join(missing)}. Post the quote's adjustments as they are."]
    if errors:
        raise Unprocessable("the adjustments differ from what the store's modules compute for this sale",
                            fields=errors, details={"adjustments": [
                                {"source": a["source"], "code": a["code"], "amount": str(a["amount"])} for a in computed]})
    return computed


def discount_limit(store, user) -> Decimal | None:
    """The largest line discount (percent of the line at catalogue price) `user` may type in
    `store`; a till's token (no user) counts as staff. None: no limit."""
    role = getattr(user, "role", None) or "staff"
    if ROLE_RANK.get(role, 1) >= ROLE_RANK["owner"]:
        return None
    if role == "manager":
        return store.manager_discount_limit_percent
    return store.staff_discount_limit_percent


def line_discount_error(product, quantity: Decimal, amount: Decimal, limit: Decimal | None) -> str | None:
    """Why a line's typed discount (a `discount`, or a unit price below the catalogue's) is over
    `limit`, or None when it is within it."""
    if limit is None:
        return None
    list_amount = money(quantity * product.price)
    if list_amount <= 0 or amount >= list_amount:
        return None
    if (list_amount - amount) * 100 > list_amount * limit:
        return (f"A discount of {list_amount - amount} on {list_amount} is more than the {limit.normalize():f}% "
                f"you may give in this store.")
    return None
