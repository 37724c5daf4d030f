"""Segments: filters compiled to ONE SQL statement over customers, always restricted by the
core's visibility rule for the segment's store.

Filters (all optional, AND-ed):
- `final_class`, `lifecycle`, `rfm_segment`: lists of class values, in the store's scope;
- `tags`, `interests` (hobbies): any of the listed values;
- `last_purchase_days_min` / `last_purchase_days_max`: days since the last purchase in the store
  (min 60 = "has not bought for 60 days"; a customer who never bought has no last purchase);
- `birth_month`: a list of months 1-12;
- `stores`: store codes the customer's home store must be among;
- `plugins`: `{filter name: params}` for filters other plugins add through `segment_filters`
  (membership's tier, feedback's open complaint...), looked up through the hook."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, func, or_, select

from core.access import visible_customers
from core.live_stores import live_customer
from core.classification.filters import class_condition
from core.classification.rules import FINAL_CLASSES, LIFECYCLES, RFM_SEGMENT_NAMES
from core.errors import InvalidInput
from core.models import Customer, CustomerTag, Sale, Store, utcnow

CLASS_KEYS = {"final_class": FINAL_CLASSES, "lifecycle": LIFECYCLES, "rfm_segment": RFM_SEGMENT_NAMES}
KNOWN = set(CLASS_KEYS) | {"tags", "interests", "last_purchase_days_min", "last_purchase_days_max", "birth_month",
                           "stores", "plugins"}


def plugin_filters(ctx) -> dict:
    """{name: filter} from the plugins enabled in ctx.store that implement `segment_filters`."""
    found = {}
    if ctx is None or ctx.registry is None:
        return found
    reg = ctx.registry
    for name in reg.implementers("segment_filters", reg.enabled_in(ctx.store)):
        for answer in reg.caller_for("segment_filters", name)():
            for flt in answer or []:
                found[flt["name"]] = flt
    return found


def _list(filters: dict, key: str, of=str) -> list:
    value = filters.get(key)
    if value is None:
        return []
    if (not isinstance(value, list) or not value or len(value) > 1000
            or any(isinstance(v, bool) or not isinstance(v, of) or (of is str and not 0 < len(v) <= 200) for v in value)):
        kind = "texts" if of is str else "numbers"
        raise InvalidInput(f"filter {key} must be a non-empty list of {kind}",
                           fields={f"filters.{key}": [f"Give a non-empty list of {kind}."]})
    return value


def _days(filters: dict, key: str) -> int | None:
    value = filters.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36500:
        raise InvalidInput(f"filter {key} must be a number of days", fields={f"filters.{key}": ["Give 0 to 36500 days."]})
    return value


def audience_query(session, store: Store, filters: dict, ctx=None, *, now=None):
    """SELECT Customer.id of the customers `filters` describe, seen by `store`, not erased. A
    live store's campaign never reaches a sandbox (test) store's customers."""
    unknown = set(filters) - KNOWN
    if unknown:
        raise InvalidInput(f"unknown filters {sorted(unknown)}",
                           fields={f"filters.{k}": [f"Unknown filter; use one of {', '.join(sorted(KNOWN))}."] for k in unknown})
    stmt = select(Customer.id).where(visible_customers([store.id]), Customer.erased_at.is_(None))
    if not store.sandbox:
        stmt = stmt.where(live_customer())
    for key, allowed in CLASS_KEYS.items():
        values = _list(filters, key)
        bad = [v for v in values if v not in allowed]
        if bad:
            raise InvalidInput(f"unknown {key} {bad}", fields={f"filters.{key}": [f"Must be among: {', '.join(allowed)}."]})
        if values:
            stmt = stmt.where(or_(*[class_condition(key, v, [store.id]) for v in values]))
    tags = _list(filters, "tags")
    if tags:
        stmt = stmt.where(exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag.in_(tags)))
    interests = _list(filters, "interests")
    if interests:
        # hobbies is a JSON list; matched as text so one statement serves both backends.
        stmt = stmt.where(or_(*[func.lower(Customer.hobbies.as_string()).contains(f'"{str(i).lower()}"')
                                for i in interests]))
    months = _list(filters, "birth_month", of=int)
    if any(not 1 <= m <= 12 for m in months):
        raise InvalidInput("birth_month must be months 1-12", fields={"filters.birth_month": ["Months 1 to 12."]})
    if months:
        stmt = stmt.where(Customer.birth_month.in_(months))
    codes = _list(filters, "stores")
    if codes:
        ids = session.scalars(select(Store.id).where(Store.code.in_(codes))).all()
        stmt = stmt.where(Customer.home_store_id.in_(ids))
    now = now or utcnow()
    last = select(func.max(Sale.occurred_at)).where(Sale.customer_id == Customer.id, Sale.store_id == store.id,
                                                     Sale.status == "completed").scalar_subquery()
    least, most = _days(filters, "last_purchase_days_min"), _days(filters, "last_purchase_days_max")
    if least is not None:
        stmt = stmt.where(last <= now - timedelta(days=least))
    if most is not None:
        stmt = stmt.where(last >= now - timedelta(days=most))
    extra = filters.get("plugins") or {}
    if extra:
        if not isinstance(extra, dict):
            raise InvalidInput("plugins filters must be an object", fields={"filters.plugins": ["Give {name: params}."]})
        available = plugin_filters(ctx)
        for name, params in extra.items():
            flt = available.get(name)
            if flt is None:
                raise InvalidInput(f"no filter {name} here", fields={f"filters.plugins.{name}": [
                    "No enabled plugin offers this filter in this store."]})
            if not isinstance(params, dict):
                raise InvalidInput(f"filter {name} takes an object", fields={f"filters.plugins.{name}": ["Give an object."]})
            try:
                stmt = flt["apply"](stmt, params, ctx)
            except (TypeError, ValueError, KeyError) as exc:
                raise InvalidInput(f"filter {name}: {exc}", fields={f"filters.plugins.{name}": [
                    "These parameters do not fit this filter."]}) from None
    return stmt


def count(session, store: Store, filters: dict, ctx=None) -> int:
    sub = audience_query(session, store, filters, ctx).subquery()
    return session.scalar(select(func.count()).select_from(sub)) or 0


def describe_filters() -> list[dict]:
    """What the admin's segment builder offers (labels are translated where shown)."""
    return [{"name": k, "values": list(v)} for k, v in CLASS_KEYS.items()]


def consented_with_address(stmt, channel: str):
    """Narrow an audience to customers whose consent for `channel` stands and who have an
    address there (set-based)."""
    from core.services.customers import consented_customers_query

    stmt = stmt.where(Customer.id.in_(consented_customers_query(channel)))
    if channel == "email":
        stmt = stmt.where(Customer.email_hash.isnot(None))
    elif channel == "sms":
        stmt = stmt.where(Customer.phone_hash.isnot(None))
    elif channel == "wechat":
        stmt = stmt.where(Customer.wechat_id.isnot(None))
    return stmt


